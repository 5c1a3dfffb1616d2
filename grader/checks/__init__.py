"""Checks as code: one small function per success criterion, registered with its metadata.

A check reads like the criterion it enforces:

    @check("C1.3", "Model registered", points=10, anchor="register-the-model", depends=("C0.1",))
    def model_registered(ctx: TeamContext) -> Outcome:
        ...
        return passed("...", versions=[...])     # or failed("what is wrong and what to do", **evidence)

`ctx` is one team's view for the grading pass (`grader.context.TeamContext`: its probes, `ctx.team`
its teams-file entry). A guard such as `require_repo(ctx)` returns what the check needs or raises
`Decided(outcome)`, which ends the check with that outcome. `raise NotGradable(reason)` makes it
`error`: could not be graded, not the team's fault. Any other exception is `crash`: a bug in the
grader, reported to the coach with the traceback in the grader's log, never the team's failure.
`partial(message, fraction, **evidence)` awards a fraction of the points (a `fail` with points,
`pass` when the fraction is 1). A check whose dependency did not pass is `skipped` without running.
One module per challenge (c0.py .. c5.py): "the check for challenge 4" lives in c4.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wth.ci import workflows
from wth.workspace_contract import BUILD_ID, PIPELINE_TAG

from ..context import TeamContext
from ..results import (  # noqa: F401 (the checks' vocabulary)
    CHALLENGES,
    CRASH,
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    SOURCES,
    STATUSES,
    UNREACHABLE,
    whole,
)


@dataclass
class Outcome:
    status: str
    message: str
    evidence: dict = field(default_factory=dict)
    fraction: float | None = None  # share of the points earned; None: all for a pass, none otherwise

    def points(self, max_points: int) -> float:
        """Points earned, rounded to 0.1; an int when whole."""
        share = self.fraction if self.fraction is not None else float(self.status == PASS)
        return whole(max_points * share)


def passed(message: str, **evidence) -> Outcome:
    return Outcome(PASS, message, evidence)


def failed(message: str, **evidence) -> Outcome:
    return Outcome(FAIL, message, evidence)


def unreachable(source: str, message: str, **evidence) -> Outcome:
    """A fail because the team's `source` (one of SOURCES) did not answer: the scoreboard badges the team."""
    return Outcome(FAIL, message, {**evidence, UNREACHABLE: source})


def partial(message: str, fraction: float, **evidence) -> Outcome:
    """Partial credit: `fraction` (0..1) of the check's points; a pass only at 1."""
    fraction = min(1.0, max(0.0, float(fraction)))
    return Outcome(PASS if fraction >= 1 else FAIL, message, evidence, fraction)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    points: int
    anchor: str
    depends: tuple[str, ...]
    func: Callable
    slow: bool = False  # runs the team's code (pytest): its budget is `Budgets.of_check(True)`, not `check_s`
    source: str = "workspace"  # what it looks at: one of SOURCES
    reads: tuple[str, ...] = ("repo", "workspace")  # what its result depends on, for keeping it across passes

    @property
    def challenge(self) -> int:
        return int(self.id[1:].split(".")[0])

    @property
    def hint(self) -> str:
        return f"Student/Challenge-{self.challenge:02d}.md#{self.anchor}"


REGISTRY: dict[str, Check] = {}


class Decided(Exception):
    """Raised by a guard or a helper that settles a check early: the runner reports `outcome`."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def require_repo(ctx: TeamContext) -> Path:
    """The team's repository on this machine; the check fails here when there is none."""
    if not ctx.team.has_repo:
        raise Decided(failed("no repository configured for this team yet: give your coach the path or git URL of "
                             "your repository"))
    repo = ctx.repo
    if not repo.is_dir():
        raise Decided(failed(f"no repository at {repo}: clone your team's repository there", repo=str(repo)))
    return repo


def pipeline_runs(ctx: TeamContext, kind: str, evidence: dict) -> list:
    """The workspace's `kind` pipeline runs (tagged wth.pipeline=<kind>), newest first. A succeeded run
    of the team's Azure DevOps `kind` pipeline passes the check here instead. Offline (no Azure DevOps),
    only the runs a CI run made count: their `build_id` names a CI run the repository backs
    (`made_by_ci`). The runs seen go into `evidence` either way."""
    if ctx.devops is not None:
        run, runs = ctx.devops.succeeded(getattr(ctx.team.devops, f"{kind}_pipeline"))
        evidence["azure_devops_runs"] = [f"{r.pipeline} #{r.id} {r.state}/{r.result}" for r in runs[:10]]
        if run:
            raise Decided(passed(f"Azure DevOps pipeline {run.pipeline!r} run {run.name} succeeded", **evidence))
    runs = ctx.mlflow.pipeline_runs(kind)
    evidence[f"workspace_{kind}_runs"] = [f"{r.info.run_id[:8]} {r.info.status} {BUILD_ID}={r.data.tags.get(BUILD_ID) or '-'}"
                                          for r in runs[:10]]
    if ctx.devops is not None:
        return runs
    made = [r for r in runs if made_by_ci(ctx, r)]
    if runs and not made:
        evidence["not_made_by_ci"] = NOT_CI
    return made


OFFLINE_RUNS_ACTIONS = (f"it is Azure DevOps YAML, which only Azure DevOps runs: offline, CI runs GitHub Actions "
                        f"workflows ({workflows.FOLDER}/*.yml) when you push")
NOT_CI = (f"a run tagged {PIPELINE_TAG}=... counts when a CI run made it: its {BUILD_ID} tag names a CI run "
          "(`wth ci runs`) of a commit of your repository; a script run by hand is not a pipeline run")


def made_by_ci(ctx: TeamContext, run) -> bool:
    """Whether a pipeline run (or step run) was made by a CI run that the team's repository backs."""
    return ctx.ci.backed(run.data.tags.get(BUILD_ID)) is not None


def check(id: str, title: str, points: int, anchor: str, depends: tuple[str, ...] = (), slow: bool = False,
          source: str = "workspace", reads: tuple[str, ...] = ("repo", "workspace")):
    """Registers a check. `reads`: what its result depends on besides its dependencies' statuses, of
    `repo` (the commit) and `workspace` (the store: its runs, and the CI runs whose commits the
    repository backs); `runner.Earlier` keeps it while those are unchanged (endpoint checks: never)."""
    def register(func: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        for n in range(int(id[1:].split(".")[0])):  # the earlier challenges first, whichever module is imported first
            importlib.import_module(f"grader.checks.c{n}")
        missing = [d for d in depends if d not in REGISTRY]
        if missing:  # dependencies are registered first, so the registry order is a valid run order
            raise ValueError(f"check {id} depends on unregistered {missing}")
        REGISTRY[id] = Check(id, title, points, anchor, tuple(depends), func, slow, source, tuple(reads))
        return func

    return register


def all_checks() -> list[Check]:
    """Every check, in a dependency-respecting order (challenge by challenge)."""
    for n in CHALLENGES:
        importlib.import_module(f"grader.checks.c{n}")
    return list(REGISTRY.values())
