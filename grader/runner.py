"""Grade teams: teams in parallel (a bounded thread pool), each team's checks in dependency order.

Budgets: a check runs in its own daemon thread and is abandoned as `error` when it passes its budget
(`Budgets.of_check`: `check_s`, or for the checks that run the team's tests `pytest_s`, moved on by the
time they wait for a CPU, and a grace), and no check starts once the
team's budget (`team_s`) is spent. The checks that run the team's tests wait for one of the pass's
test slots (`Session.test_slots`: as many as the machine has CPUs and memory for) before their budget
starts: a room of teams does not run more test sessions at once than the machine holds, and the wait
is the room's, not the team's (its budget is moved on by it). Network calls and subprocesses carry
their own timeouts inside those, so one team's hanging endpoint costs that team its budget and nobody
else anything.
A check whose dependencies did not pass is `skipped`, or `error` when they could not be graded.
`Decided` in a check is the outcome it carries (a guard's fail), `NotGradable` that check's `error`
(could not be graded); any other exception is its `crash` (a grader bug: the traceback goes to the
grader's log, `<grader_dir>/grader.log`), never the run's end; a file the grader's user may not
read, or the grading machine short of descriptors, memory or disk, is that check's `error`. Secrets
are redacted from every message, piece of evidence and logged traceback before it leaves the runner.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from . import malloc_arenas
from .checks import Check, Decided, Outcome, all_checks
from .context import Session, TeamContext
from .not_gradable import RESOURCE_ERRNOS, NotGradable
from .redaction import redact
from .results import (
    CRASH,
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    SOURCES,
    STATUSES,
    CheckResult,
    TeamResult,
)
from .teams import Config, Team, parse

MAX_TEAMS_IN_PARALLEL = 8


def _jsonable(evidence: dict) -> dict:
    return json.loads(json.dumps(evidence, default=str))


def _run_with_budget(check: Check, ctx: TeamContext, budget: float) -> Outcome:
    box: dict = {}

    def target():
        try:
            box["outcome"] = check.func(ctx)
        except Decided as done:  # a guard settled the check (e.g. no repository: a fail)
            box["outcome"] = done.outcome
        except NotGradable as err:
            box["outcome"] = Outcome(ERROR, f"not gradable: {err}")
        except Exception as err:  # a bug in the grader (or an answer it did not foresee): never the team's fail
            if isinstance(err, OSError) and err.errno in RESOURCE_ERRNOS:  # the grading machine's overload
                box["outcome"] = Outcome(ERROR, f"not gradable: the grading machine ran short of resources "
                                                f"({err.strerror}); regrade once it has them")
                return
            if isinstance(err, PermissionError):  # a file of the team's the grader's user may not read
                box["outcome"] = Outcome(ERROR, "not gradable: the grader's user may not read "
                                                f"{err.filename or 'a file'}")
                return
            where = ctx.session.log_crash(ctx.team, check.id, traceback.format_exc())
            box["outcome"] = Outcome(CRASH, f"the grader crashed on this check ({type(err).__name__}: {str(err)[:200]}): "
                                            f"a grader bug, not the team's result; traceback in {where}")

    worker = threading.Thread(target=target, name=f"{ctx.team.name}:{check.id}", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        return Outcome(ERROR, f"not gradable: the check did not finish within its budget of {budget:.0f} s")
    outcome = box.get("outcome")
    if not isinstance(outcome, Outcome) or outcome.status not in STATUSES or outcome.status == SKIPPED:
        return Outcome(CRASH, f"the grader's check returned {outcome!r} instead of an outcome (a grader bug)")
    return outcome


class Earlier:
    """Results of earlier passes that a pass takes over (`watch` keeps one across its passes), so that a pass
    regrades only what changed. A check is not run again while nothing it reads (`Check.reads`) changed:
    the commit graded (of a repository by git URL, whose clone holds exactly that commit's tree), the
    workspace's change marker (a local store's file), and always the team's entry, the teams file's
    settings and its dependencies' statuses. Endpoint checks run every pass; so does every check reading
    what cannot be pinned (a local clone's work tree changes without a commit; a remote store and Azure
    DevOps have no cheap marker), and every check whose last result was `error` or `crash`."""

    KEPT = (PASS, FAIL, SKIPPED)

    def __init__(self):
        self._results: dict[tuple[str, str], tuple[tuple, CheckResult]] = {}

    @staticmethod
    def inputs(ctx: TeamContext) -> dict[str, object]:
        """What a team's checks may read, pinned: the settings' digest, `repo` (the commit graded, "none"
        without a repository) and `workspace` (the store's marker); None for what cannot be pinned."""
        from .probes.git import head_commit
        from .probes.mlflow import change_marker

        team, commit = ctx.team, "none"
        if team.repo is not None:
            try:
                commit = head_commit(ctx.repo) if team.repo.git else None
            except NotGradable:
                commit = None
        settings = ctx.session.config.model_dump_json(exclude={"teams"}) + team.model_dump_json()
        return {"settings": hashlib.sha256(settings.encode()).hexdigest(), "repo": commit,
                "workspace": None if team.devops else change_marker(team.workspace)}

    @staticmethod
    def key(check: Check, pinned: dict[str, object], statuses: dict[str, str]) -> tuple | None:
        """What `check`'s result is kept under (None: it is run every pass)."""
        if check.source == "endpoint" or any(pinned[what] is None for what in check.reads):
            return None
        return pinned["settings"], tuple(pinned[what] for what in check.reads), tuple(statuses.get(d) for d in check.depends)

    def get(self, team: str, check_id: str, key: tuple) -> CheckResult | None:
        kept = self._results.get((team, check_id))
        return kept[1] if kept and kept[0] == key else None

    def put(self, team: str, result: CheckResult, key: tuple) -> None:
        if result.status in self.KEPT:
            self._results[(team, result.id)] = (key, result)
        else:
            self._results.pop((team, result.id), None)


def needed(checks: list[Check], challenge: int | None) -> tuple[list[Check], set[str]]:
    """The checks to run (the challenge's and everything they depend on) and the ids to report."""
    if challenge is None:
        return checks, {c.id for c in checks}
    by_id = {c.id: c for c in checks}
    wanted = {c.id for c in checks if c.challenge == challenge}
    todo = list(wanted)
    closure = set()
    while todo:
        cid = todo.pop()
        if cid not in closure:
            closure.add(cid)
            todo += list(by_id[cid].depends)
    return [c for c in checks if c.id in closure], wanted


def grade_team(team: Team, session: Session, challenge: int | None = None,
               progress: Callable[[str, CheckResult], None] | None = None,
               exclude: frozenset[str] = frozenset(), earlier: Earlier | None = None) -> TeamResult:
    """One team's checks in order; `exclude`d check ids are neither run nor reported; what `earlier` passes
    computed on the same inputs is taken over."""
    started = time.monotonic()
    graded_at = datetime.now(UTC).isoformat(timespec="seconds")
    deadline = started + team.budgets.team_s
    checks, report = needed([c for c in all_checks() if c.id not in exclude], challenge)
    ctx = TeamContext(team, session)
    secrets = team.secrets()
    statuses: dict[str, str] = {}
    results = []
    pinned = earlier.inputs(ctx) if earlier is not None else None
    for check in checks:
        key = earlier.key(check, pinned, statuses) if earlier is not None else None
        kept = earlier.get(team.name, check.id, key) if key else None
        if kept:  # a dependency of the checks reported is kept too: only its status is needed
            statuses[check.id] = kept.status
            if check.id in report:
                results.append(kept)
                if progress:
                    progress(team.name, kept)
            continue
        begun = time.monotonic()
        blocked = [d for d in check.depends if statuses.get(d) != PASS]
        why = ", ".join(f"{d} ({statuses.get(d)})" for d in blocked)
        if blocked and all(statuses.get(d) in (ERROR, CRASH) for d in blocked):  # the team may well pass it
            outcome = Outcome(ERROR, f"not gradable: depends on {why}, which could not be graded")
        elif blocked:
            outcome = Outcome(SKIPPED, "skipped: depends on " + why)
        elif deadline - begun <= 0:
            outcome = Outcome(ERROR, f"not gradable: the team's budget of {team.budgets.team_s:.0f} s was spent before this check")
        else:
            with session.test_slots if check.slow else contextlib.nullcontext():
                deadline += time.monotonic() - begun  # the wait for a test slot
                begun = time.monotonic()
                outcome = _run_with_budget(check, ctx, min(team.budgets.of_check(check.slow), deadline - begun))
        statuses[check.id] = outcome.status
        if check.id not in report:
            continue
        result = CheckResult(
            id=check.id, title=check.title, challenge=check.challenge, status=outcome.status,
            points=outcome.points(check.points), max_points=check.points,
            message=redact(outcome.message, secrets), hint=check.hint,
            evidence=redact(_jsonable(outcome.evidence), secrets), duration_s=round(time.monotonic() - begun, 3),
            computed_at=graded_at,
        )
        if key:
            earlier.put(team.name, result, key)
        results.append(result)
        if progress:
            progress(team.name, result)
    return TeamResult(team.name, results, graded_at, round(time.monotonic() - started, 3), reference=team.reference)


def leaving_out(sources: frozenset[str] | None = None, run_tests: bool = True) -> frozenset[str]:
    """The ids of the checks not to run: those looking at none of `sources` (None: all of them), and
    those that run the team's tests unless `run_tests`."""
    return frozenset(c.id for c in all_checks()
                     if (sources is not None and c.source not in sources) or (c.slow and not run_tests))


def grade(config: Config, challenge: int | None = None, teams: list[str] | None = None,
          progress: Callable[[str, CheckResult], None] | None = None,
          on_team: Callable[[TeamResult], None] | None = None,
          workers: int = MAX_TEAMS_IN_PARALLEL, sources: frozenset[str] | None = None,
          earlier: Earlier | None = None) -> list[TeamResult]:
    """Grade every team (or the named ones) of `config` on the checks looking at `sources` (None: all),
    taking over what `earlier` passes computed on unchanged inputs; results in the teams file's order."""
    chosen = [config.team(name) for name in teams] if teams else config.teams
    malloc_arenas.limit()
    session = Session(config)
    exclude = leaving_out(sources)

    def one(team: Team) -> TeamResult:
        result = grade_team(team, session, challenge, progress, exclude, earlier)
        if on_team:
            on_team(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chosen))), thread_name_prefix="team") as pool:
            return list(pool.map(one, chosen))
    finally:
        session.close()


def grade_workspace(workspace: str | Path, endpoint: str | None = None, repo: str | Path | None = None,
                    name: str = "reference", event: str = "What The Hack - MLOps",
                    challenge: int | None = None, run_tests: bool = False,
                    sources: frozenset[str] | None = None) -> TeamResult:
    """Grade one workspace (+ endpoint, + repo) as a team, without a teams file.

    The team is read as a teams file in the current folder holding just it would be (`ConfigError`
    when it cannot be). The checks looking at `sources` run (default: all, less the repository's
    without `repo`; a repository still backs the CI runs the workspace records); the checks that run
    the repo's pytest (C2.2, C2.3) run only with `run_tests`.
    """
    entry = {"name": name, "workspace": str(workspace), "endpoint": endpoint, "repo": str(repo) if repo else None}
    config = parse({"event": event, "teams": [entry]}, Path("grade_workspace"))
    (team,) = config.teams
    exclude = leaving_out(sources if sources is not None else None if repo else frozenset(SOURCES) - {"repo"}, run_tests)
    session = Session(config)
    try:
        return grade_team(team, session, challenge, exclude=exclude)
    finally:
        session.close()
