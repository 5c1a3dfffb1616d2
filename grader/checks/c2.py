"""Challenge 02: a build pipeline (CI) with tests that pass and catch bad data, and lineage."""

from __future__ import annotations

from pathlib import Path

from wth import settings
from wth.ci import records, workflows
from wth.ci.records import Record
from wth.workspace_contract import BUILD_ID, BUILD_PIPELINE, LINEAGE_TAGS, PIPELINE_TAG

from ..context import TeamContext
from ..not_gradable import NotGradable
from ..probes import pipelines
from ..probes import repo as repo_probe
from ..probes.commands import RepoCode, Runs, Unresolved
from ..testdata import CORRUPTIONS
from . import OFFLINE_RUNS_ACTIONS, Outcome, check, failed, partial, passed, pipeline_runs, require_repo

WANTED = {  # what C2.4 wants a pipeline's steps to run, and how its message asks for it
    "tests": "tests (a step running pytest on your repository's tests)",
    "train": "training (a step running your training script, e.g. python src/train.py, a file of your repository, "
             "or a command your repository defines)",
    "register": "registration (a step running your registration script or command, likewise)",
}
STEMS = {"tests": "test", "train": "train", "register": "regist"}  # what a step doing it is named (in part)
CALLS = {  # what a step's code calls when it does it (functions, or keyword arguments such as log_model's)
    "train": frozenset({"log_model", "fit", "autolog"}),
    "register": frozenset({"register_model", "create_model_version", "registered_model_name"}),
}


@check("C2.1", "Unit tests exist", points=5, anchor="success-criteria", source="repo", reads=("repo",))
def tests_exist(ctx: TeamContext) -> Outcome:
    found = repo_probe.test_functions(require_repo(ctx))
    total = sum(found.values())
    if total == 0:
        return failed("no pytest test functions (def test_...) in test_*.py or *_test.py files: add unit tests "
                      "for your data validation and your model", files=sorted(found)[:20])
    return passed(f"{total} test function(s) in {len(found)} file(s)", files=dict(sorted(found.items())[:30]))


def _contained(run) -> str:
    """Said on every check that ran team code: whether a sandbox contained it."""
    return "" if run.sandbox else " [not sandboxed: no bubblewrap on the grading machine]"


@check("C2.2", "The team's tests pass", points=10, anchor="success-criteria", depends=("C2.1",), slow=True, source="repo", reads=("repo",))
def tests_pass(ctx: TeamContext) -> Outcome:
    """The team's tests on a valid data file; this check also waits for C2.3's runs (`TeamContext.test_runs`)."""
    run = ctx.test_runs["clean"]
    evidence = {"command": f"{ctx.python} -m pytest -q -x (in a copy of {ctx.repo})",
                settings.DATA_FILE.name: "a valid TransactionHistory file", "sandbox": run.sandbox or "none",
                "exit_code": run.returncode, "seconds": run.seconds, "summary": run.summary, "output_tail": run.output[-1500:]}
    note, first = _contained(run), f"; first error: {run.first_error}" if run.first_error else ""
    _not_starved(ctx, [run])
    if run.returncode is None and run.timed_out:
        return failed(f"your tests did not finish within {ctx.team.budgets.pytest_s:g} s; keep unit tests fast{note}", **evidence)
    if run.returncode is None:
        return failed(f"your tests ended without an exit code{first or ': ' + run.summary}{note}", **evidence)
    if run.returncode != 0:
        return failed(f"pytest exited with {run.returncode}: {run.summary}{first}{note}", **evidence)
    return passed(f"the tests pass: {run.summary}{note}", **evidence)


@check("C2.3", "The team's tests catch bad data", points=10, anchor="success-criteria", depends=("C2.2",), slow=True,
       source="repo", reads=("repo",))
def tests_catch_bad_data(ctx: TeamContext) -> Outcome:
    """One run per kind of corruption (in C2.2's session and budget); the points are shared by the
    kinds caught (tests that fail, exit 1)."""
    clean, done = ctx.test_runs["clean"], {kind: run for kind, run in ctx.test_runs.items() if kind != "clean"}
    caught, slipped, runs = [], [], {}
    for kind, run in done.items():
        runs[kind] = {"exit_code": run.returncode, "seconds": run.seconds, "summary": run.summary}
        (caught if run.returncode == 1 else slipped).append(kind)
        if run.returncode not in (0, 1):
            runs[kind]["output_tail"] = run.output[-600:]
    _not_starved(ctx, [done[kind] for kind in slipped])
    note = _contained(clean)
    evidence = {"caught": caught, "slipped_through": slipped, "runs": runs, "sandbox": clean.sandbox or "none",
                "corruptions": {kind: what for kind, (what, _) in CORRUPTIONS.items()}}
    total = len(done)
    if not slipped:
        return passed(f"your tests fail on each of the {total} kinds of corrupted data, as they should{note}", **evidence)
    listing = "; ".join(f"{CORRUPTIONS[kind][0]} ({_why(runs[kind])})" for kind in slipped)
    return partial(f"your tests caught {len(caught)} of {total} kinds of corrupted data ({settings.DATA_FILE.name}); slipped "
                   f"through: {listing}. Check each rule in your data-validation tests{note}", len(caught) / total, **evidence)


def _not_starved(ctx: TeamContext, runs: list) -> None:
    """`NotGradable` when one of `runs` ran out of time because the grading machine starved it: its
    overload is never the team's failure."""
    starved = next((run for run in runs if run.timed_out and run.contended), None)
    if starved:
        raise NotGradable(f"the grading machine was overloaded while your tests ran ({starved.contended}), so their "
                          f"{ctx.team.budgets.pytest_s:g} s budget says nothing of them; regraded on the next pass")


def _why(run: dict) -> str:
    if run["exit_code"] == 0:
        return "the tests passed"
    if run["exit_code"] is None:
        return "not finished within the pytest budget"
    return f"pytest exited {run['exit_code']}, not a test failure"


def _named(step: Runs | Unresolved, role: str) -> bool:
    """Whether a step is named for `role` (its program, the file it runs or its subcommand): test*,
    train*, regist*; a build pipeline (named pipeline and build) trains and registers."""
    return step.mentions(STEMS[role]) or (role != "tests" and step.mentions("pipeline") and step.mentions("build"))


def _does(code: RepoCode, step: Runs, role: str) -> bool:
    """Whether a step running the team's code trains or registers: named for it, or its code (with what it
    imports of the repository) calls what does it (MLflow's model logging or a fit; its registry)."""
    return _named(step, role) or bool(code.calls(step.path) & CALLS[role])


def covers(code: RepoCode, expanded: pipelines.Expanded) -> tuple[dict[str, str | None], list[str]]:
    """What of WANTED a pipeline's steps run ({role: the step, None}), and the steps named like one
    of the roles missing that run nothing of the repository (why not)."""
    found: dict[str, str | None] = dict.fromkeys(WANTED)
    unresolved = []
    for command in (c for step in expanded.steps for c in code.commands(step.script)):
        runs = code.runs(command)
        if isinstance(runs, Runs):
            for role in ("tests",) if runs.kind == "tests" else [r for r in ("train", "register") if _does(code, runs, r)]:
                found[role] = found[role] or runs.label
        elif isinstance(runs, Unresolved):
            unresolved.append(runs)
    near = [u.text for u in unresolved if any(_named(u, role) for role, step in found.items() if not step)]
    return found, near


def definitions(repo: Path) -> tuple[list[Outcome], Outcome | None]:
    """What the repository's pipeline files define: a passing outcome for each that tests, trains and
    registers (its steps, templates expanded, run the team's tests and its own training and registration
    code: files of the repository, or commands it defines; a word in a string is not a step), else the
    failure naming what the closest one lacks."""
    files = pipelines.pipeline_files(repo)
    if not files:
        return [], failed(f"no pipeline definition found (looked in {', '.join(pipelines.PIPELINE_GLOBS)})",
                          looked_in=list(pipelines.PIPELINE_GLOBS))
    broken = {f.path: f.error for f in files if f.error}
    code, best, complete = RepoCode(repo), None, []
    for entry in files:
        if entry.error or not isinstance(entry.data, dict):
            continue
        expanded = pipelines.expand(repo, files, entry)
        found, near = covers(code, expanded)
        evidence = {"pipeline": entry.path, "templates": expanded.templates, "found": found,
                    "test_results_published": any(s.task.startswith("PublishTestResults") for s in expanded.steps),
                    "not_counted": near[:10], "template_problems": expanded.problems, "invalid_yaml": broken}
        if all(found.values()):
            complete.append(passed(f"{entry.path} tests, trains and registers the model", **evidence))
        elif best is None or sum(map(bool, found.values())) > sum(map(bool, best["found"].values())):
            best = evidence
    if complete:
        return complete, None
    if best is None:
        return [], failed("no pipeline file is valid YAML", invalid_yaml=broken)
    missing = [WANTED[k] for k, v in best["found"].items() if not v]
    near = f". Not counted: {'; '.join(best['not_counted'][:3])}" if best["not_counted"] else ""
    return [], failed(f"no pipeline runs all of your tests, training and registration; the closest, {best['pipeline']}, "
                      f"lacks: {'; '.join(missing)}{near}", **best)


@check("C2.4", "Pipeline definition that tests, trains and registers", points=10, anchor="success-criteria", source="repo")
def pipeline_definition(ctx: TeamContext) -> Outcome:
    """A pipeline file that tests, trains and registers (`definitions`); offline, one that a succeeded CI
    run of a commit of the repository ran as it stands (Azure path: Azure DevOps runs it)."""
    complete, failure = definitions(require_repo(ctx))
    if failure is not None:
        return failure
    if ctx.devops is not None:
        return complete[0]
    reasons = []
    for outcome in complete:
        path = outcome.evidence["pipeline"]
        record, why = ran_as_it_stands(ctx, path)
        if record is not None:
            return passed(f"{path} tests, trains and registers the model, and CI run #{record.number} ran it as it "
                          f"stands: succeeded on {record.sha[:8]} ({record.event})", ci_run=record.number, **outcome.evidence)
        reasons.append((why, outcome.evidence))
    return failed(reasons[0][0], **reasons[0][1])


def ran_as_it_stands(ctx: TeamContext, path: str) -> tuple[Record | None, str]:
    """The newest succeeded CI run of workflow `path` on a commit of the repository, the file unchanged
    since (None and why not). Offline, CI runs GitHub Actions workflows only."""
    if not workflows.is_workflow_path(path):
        return None, f"{path} tests, trains and registers, but {OFFLINE_RUNS_ACTIONS}"
    tried = ctx.ci.succeeded(path)
    backed = [v.record for v in tried if v.problem is None]
    if not backed:
        seen = [f"#{r.number} {r.state}" for r in ctx.ci.records if r.workflow == path][:5]
        refused = "; ".join(f"#{v.record.number}: {v.problem}" for v in tried if v.problem)[:300]
        return None, (f"{path} tests, trains and registers, but no CI run of it succeeded on a commit of your "
                      f"repository (its runs: {', '.join(seen) or 'none'}{'; ' + refused if refused else ''}): push it "
                      "and watch the run (`wth ci runs`, `wth ci watch`)")
    for record in backed:
        if ctx.ci.same_at_head(record):
            return record, ""
    return None, (f"{path} tests, trains and registers, but it changed since its last succeeded CI run "
                  f"#{backed[0].number}: push it and let CI run it as it stands")


@check("C2.5", "Succeeded build pipeline run", points=10, anchor="success-criteria", depends=("C0.1",))
def build_run(ctx: TeamContext) -> Outcome:
    """Azure path: a succeeded Azure DevOps build. Offline: a succeeded CI run of a commit of the
    repository whose log shows the team's tests passing (pytest's own summary) and that registered a
    version (its build_id) through a finished build pipeline run."""
    evidence = {}
    if ctx.devops is not None:
        finished = [r for r in pipeline_runs(ctx, BUILD_PIPELINE, evidence) if r.info.status == "FINISHED"]
        if finished:
            return passed(f"build pipeline run {finished[0].info.run_id[:8]} finished in the workspace", **evidence)
        return failed("no succeeded build pipeline run in Azure DevOps or in the workspace (a run tagged "
                      f"{PIPELINE_TAG}={BUILD_PIPELINE} with status FINISHED): run your build pipeline until it succeeds", **evidence)
    require_repo(ctx)
    evidence["ci_runs"] = [f"#{r.number} {r.state} {r.workflow} {r.event} {r.sha[:8]}" for r in ctx.ci.records[:10]]
    registered = {str(v.tags.get(BUILD_ID)): v for v in reversed(ctx.mlflow.versions) if (v.tags or {}).get(BUILD_ID)}
    builds = {r.data.tags.get(BUILD_ID): r for r in ctx.mlflow.pipeline_runs(BUILD_PIPELINE) if r.info.status == "FINISHED"}
    problems = []
    for found in ctx.ci.succeeded():
        record, number = found.record, str(found.record.number)
        if found.problem:
            problems.append(f"#{number}: {found.problem}")
        elif (summary := ctx.ci.pytest_summary(record)) is None:
            problems.append(f"#{number}: its log ({records.LOG_ARTIFACT}) shows no pytest summary (\"N passed in Ts\")")
        elif number not in registered:
            problems.append(f"#{number}: no registered version's {BUILD_ID} tag names it")
        elif number not in builds:
            problems.append(f"#{number}: no finished build pipeline run (tagged {PIPELINE_TAG}={BUILD_PIPELINE}) has {BUILD_ID} {number}")
        else:
            version = registered[number]
            return passed(f"CI run #{number} ({record.workflow}, {record.event} on {record.sha[:8]}) succeeded: your tests "
                          f"ran ({summary}) and build pipeline run {builds[number].info.run_id[:8]} registered version "
                          f"{version.version} with {BUILD_ID} {number}", ci_run=int(number), model_version=version.version,
                          **evidence)
    evidence["runs_not_counted"] = problems[:10]
    looked = (f"; looked at: {'; '.join(problems[:3])}" if problems else
              "; no CI run succeeded yet (`wth ci runs`): push to run your build workflow")
    return failed("no succeeded CI run of your build workflow both ran your tests (pytest's summary in its log) and "
                  f"registered a version ({BUILD_ID} = the run's number) through a build pipeline run{looked}", **evidence)


def build_pipeline_of(ctx: TeamContext, run):
    """The finished build pipeline run `run` belongs to (itself or its parent), else None."""
    parent_id = run.data.tags.get("mlflow.parentRunId")
    for candidate in (run, ctx.mlflow.run(parent_id) if parent_id else None):
        if candidate is not None and candidate.data.tags.get(PIPELINE_TAG) == BUILD_PIPELINE:
            return candidate
    return None


def _lineage_problem(ctx: TeamContext, version) -> tuple[str | None, dict]:
    """What breaks `version`'s lineage to a finished build pipeline run (None: nothing), and the evidence."""
    tags = dict(version.tags or {})
    evidence = {"version": version.version, "tags": {k: tags.get(k) for k in (*LINEAGE_TAGS, BUILD_ID)},
                "source_run_id": version.run_id}
    missing = [k for k in LINEAGE_TAGS if not tags.get(k)]
    if missing:
        return f"version {version.version} lacks the lineage tag(s) {', '.join(missing)}", evidence
    run = ctx.mlflow.run(tags["run_id"])
    if run is None:
        return f"version {version.version}'s run_id tag {tags['run_id']} names no run in the workspace", evidence
    evidence["run_status"] = run.info.status
    if run.info.status != "FINISHED":
        return f"version {version.version} links to run {tags['run_id'][:8]}, which is {run.info.status}, not FINISHED", evidence
    if version.run_id and version.run_id != tags["run_id"]:
        return (f"version {version.version}'s run_id tag ({tags['run_id'][:8]}) is not the run it was registered from "
                f"({version.run_id[:8]})"), evidence
    logged_sha = run.data.params.get("data_sha256")
    if logged_sha and logged_sha != tags["data_sha256"]:
        evidence["run_data_sha256"] = logged_sha
        return f"version {version.version}'s data_sha256 tag differs from its run's data_sha256 param", evidence
    pipeline = build_pipeline_of(ctx, run)
    evidence["build_pipeline_run"] = pipeline.info.run_id if pipeline else None
    if pipeline is None:
        return (f"version {version.version} was registered from run {tags['run_id'][:8]}, which is not part of a "
                f"build pipeline run (neither it nor its parent run is tagged {PIPELINE_TAG}={BUILD_PIPELINE}): register the "
                "model from your build pipeline"), evidence
    if pipeline.info.status != "FINISHED":
        return (f"version {version.version} comes from build pipeline run {pipeline.info.run_id[:8]}, which is "
                f"{pipeline.info.status}, not FINISHED"), evidence
    return None, evidence


@check("C2.6", "Registered version's lineage tags link to a finished run", points=10, anchor="success-criteria",
       depends=("C1.3",))
def lineage(ctx: TeamContext) -> Outcome:
    """The champion, else the newest version that the build pipeline registered (after retraining the
    champion comes from the retrain pipeline; the build pipeline's version still shows the lineage)."""
    champion = ctx.mlflow.champion
    candidates = ([champion] if champion else []) + [v for v in ctx.mlflow.versions[:10]
                                                     if not champion or v.version != champion.version]
    first = None
    for version in candidates:
        problem, evidence = _lineage_problem(ctx, version)
        if problem is None:
            tags = version.tags
            return passed(f"version {version.version} links to finished run {tags['run_id'][:8]} of build pipeline run "
                          f"{evidence['build_pipeline_run'][:8]}, trained on {tags['train_start']}..{tags['train_end']} "
                          f"(data {tags['data_sha256'][:12]})", **evidence)
        first = first or (problem, evidence)
    problem, evidence = first
    others = f" (and none of the other {len(candidates) - 1} version(s) qualifies)" if len(candidates) > 1 else ""
    return failed(problem + others, **evidence)
