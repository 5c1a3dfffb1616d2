"""The result model of a grading: statuses, challenges, one check's and one team's result.

Kept apart from the engine (`runner`, the checks and their probes, which pull in MLflow and pandas), so
that the reports (`scoreboard`), the history and the command line's help load in a moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, ERROR, CRASH, SKIPPED = "pass", "fail", "error", "crash", "skipped"
STATUSES = (PASS, FAIL, ERROR, CRASH, SKIPPED)
SOURCES = ("workspace", "endpoint", "repo")  # what a check looks at
UNREACHABLE = "unreachable"  # a result's evidence key naming the source (of SOURCES) that did not answer
CHALLENGES = {
    0: "Prerequisites and set-up",
    1: "Build a forecasting model",
    2: "Create a build pipeline (CI)",
    3: "Create a release pipeline (CD) and consume the endpoint",
    4: "Retraining and model evaluation",
    5: "(Optional) Monitor data drift",
}


def whole(points: float) -> float:
    """Points rounded to 0.1; an int when whole."""
    value = round(float(points), 1)
    return int(value) if value == int(value) else value


@dataclass
class CheckResult:
    id: str
    title: str
    challenge: int
    status: str
    points: float  # an int unless the check gave partial credit
    max_points: int
    message: str
    hint: str
    evidence: dict
    duration_s: float
    computed_at: str = ""  # the `graded_at` of the pass that ran the check (an earlier one's when it was kept)


@dataclass
class TeamResult:
    name: str
    results: list[CheckResult]
    graded_at: str
    duration_s: float
    notes: list[str] = field(default_factory=list)
    reference: bool = False  # the coach's reference team: graded and shown apart, never ranked

    @property
    def score(self) -> float:
        return whole(sum(r.points for r in self.results))

    @property
    def max_score(self) -> int:
        return sum(r.max_points for r in self.results)

    def result(self, check_id: str) -> CheckResult | None:
        return next((r for r in self.results if r.id == check_id), None)

    def unreachable(self) -> dict[str, str]:
        """{source: what its check said} for each source (workspace, endpoint) this grading found unreachable."""
        said = {r.evidence.get(UNREACHABLE): r.message for r in self.results}
        return {source: said[source] for source in SOURCES if source in said}


@dataclass
class Progress:
    """What the history of the event adds to a pass's results, for the reports (`grader.history.progress`);
    timelines oldest first."""

    first_passed: dict[str, dict[str, str]] = field(default_factory=dict)  # team -> check id -> when (ISO)
    stuck: dict[str, str] = field(default_factory=dict)  # team -> why it is flagged
    timeline: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # team -> [(graded_at, score)]
    first_to_pass: dict[int, tuple[str, str]] = field(default_factory=dict)  # challenge -> (team, when)
