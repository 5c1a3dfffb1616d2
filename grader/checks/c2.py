"""Challenge 02: a build pipeline (CI) with tests that pass and catch bad data, and lineage."""

from __future__ import annotations

import re

from ..probes import repo as repo_probe
from ..testdata import CORRUPTIONS
from . import check, devops_succeeded, failed, partial, passed

TESTS = re.compile(r"\bpytest\b|PublishTestResults|\bunittest\b")
TRAIN = re.compile(r"\btrain\b|pipeline build|\btrain\.py\b", re.I)
REGISTER = re.compile(r"regist|pipeline build|wth-solution train\b|\bmodel create\b", re.I)
LINEAGE_TAGS = ("run_id", "data_sha256", "train_start", "train_end", "mase")


def _repo_or_fail(team):
    repo = team.repo
    if repo is None or not repo.is_dir():
        return None, failed(f"no repository at {repo}: the grader cannot see your tests or pipelines", repo=str(repo))
    return repo, None


@check("C2.1", "Unit tests exist", points=5, anchor="success-criteria", source="repo")
def tests_exist(team) -> object:
    repo, problem = _repo_or_fail(team)
    if problem:
        return problem
    found = repo_probe.test_functions(repo)
    total = sum(found.values())
    if total == 0:
        return failed("no pytest test functions (def test_...) in test_*.py or *_test.py files: add unit tests "
                      "for your data validation and your model", files=sorted(found)[:20])
    return passed(f"{total} test function(s) in {len(found)} file(s)", files=dict(sorted(found.items())[:30]))


def _contained(run) -> str:
    """Said on every check that ran team code: whether a sandbox contained it."""
    return "" if run.sandbox else " [not sandboxed: no bubblewrap on the grading machine]"


@check("C2.2", "The team's tests pass", points=10, anchor="success-criteria", depends=("C2.1",), slow=True, source="repo")
def tests_pass(team) -> object:
    """The team's tests on a valid data file; this check also waits for C2.3's runs (`TeamContext.test_runs`)."""
    run = team.test_runs["clean"]
    evidence = {"command": f"{team.python} -m pytest -q -x (in a copy of {team.repo})", "WTH_DATA_FILE": "a valid TransactionHistory file",
                "sandbox": run.sandbox or "none", "exit_code": run.returncode, "seconds": run.seconds,
                "summary": run.summary, "output_tail": run.output[-1500:]}
    note, first = _contained(run), f"; first error: {run.first_error}" if run.first_error else ""
    if run.returncode is None and run.timed_out:
        return failed(f"your tests did not finish within {team.team.budgets.pytest_s:g} s; keep unit tests fast{note}", **evidence)
    if run.returncode is None:
        return failed(f"your tests ended without an exit code{first or ': ' + run.summary}{note}", **evidence)
    if run.returncode != 0:
        return failed(f"pytest exited with {run.returncode}: {run.summary}{first}{note}", **evidence)
    return passed(f"the tests pass: {run.summary}{note}", **evidence)


@check("C2.3", "The team's tests catch bad data", points=10, anchor="success-criteria", depends=("C2.2",), slow=True, source="repo")
def tests_catch_bad_data(team) -> object:
    """One run per kind of corruption (in C2.2's session and budget); the points are shared by the
    kinds caught (tests that fail, exit 1)."""
    clean, done = team.test_runs["clean"], {kind: run for kind, run in team.test_runs.items() if kind != "clean"}
    caught, slipped, runs = [], [], {}
    for kind, run in done.items():
        runs[kind] = {"exit_code": run.returncode, "seconds": run.seconds, "summary": run.summary}
        (caught if run.returncode == 1 else slipped).append(kind)
        if run.returncode not in (0, 1):
            runs[kind]["output_tail"] = run.output[-600:]
    note = _contained(clean)
    evidence = {"caught": caught, "slipped_through": slipped, "runs": runs, "sandbox": clean.sandbox or "none",
                "corruptions": {kind: what for kind, (what, _) in CORRUPTIONS.items()}}
    total = len(done)
    if not slipped:
        return passed(f"your tests fail on each of the {total} kinds of corrupted data, as they should{note}", **evidence)
    listing = "; ".join(f"{CORRUPTIONS[kind][0]} ({_why(runs[kind])})" for kind in slipped)
    return partial(f"your tests caught {len(caught)} of {total} kinds of corrupted data (WTH_DATA_FILE); slipped "
                   f"through: {listing}. Check each rule in your data-validation tests{note}", len(caught) / total, **evidence)


def _why(run: dict) -> str:
    if run["exit_code"] == 0:
        return "the tests passed"
    if run["exit_code"] is None:
        return "not finished within the pytest budget"
    return f"pytest exited {run['exit_code']}, not a test failure"


def _covers(strings: list[str]) -> dict[str, str | None]:
    found = {}
    for name, pattern in (("tests", TESTS), ("train", TRAIN), ("register", REGISTER)):
        found[name] = next((s.strip().splitlines()[0][:120] for s in strings if pattern.search(s)), None)
    return found


@check("C2.4", "Pipeline definition that tests, trains and registers", points=10, anchor="success-criteria", source="repo")
def pipeline_definition(team) -> object:
    repo, problem = _repo_or_fail(team)
    if problem:
        return problem
    files = repo_probe.pipeline_files(repo)
    if not files:
        return failed("no pipeline definition found (.pipelines/*.yml, azure-pipelines.yml or .github/workflows/*.yml)",
                      looked_in=list(repo_probe.PIPELINE_GLOBS))
    broken = {f.path: f.error for f in files if f.error}
    best = None
    for entry in files:
        if entry.error or not isinstance(entry.data, dict):
            continue
        parts = repo_probe.expand_templates(repo, files, entry)
        strings = [s for part in parts if not part.error for s in part.strings()]
        found = _covers(strings)
        evidence = {"pipeline": entry.path, "templates": [p.path for p in parts[1:]], "found": found, "invalid_yaml": broken}
        if all(found.values()):
            return passed(f"{entry.path} tests, trains and registers the model", **evidence)
        if best is None or sum(map(bool, found.values())) > sum(map(bool, best["found"].values())):
            best = evidence
    if best is None:
        return failed("no pipeline file is valid YAML", invalid_yaml=broken)
    missing = [k for k, v in best["found"].items() if not v]
    return failed(f"no pipeline runs all of tests, training and registration; the closest, {best['pipeline']}, "
                  f"lacks: {', '.join(missing)}", **best)


@check("C2.5", "Succeeded build pipeline run", points=10, anchor="success-criteria", depends=("C0.1",))
def build_run(team) -> object:
    evidence = {}
    if team.devops is not None and (succeeded := devops_succeeded(team, team.team.devops.build_pipeline, evidence)):
        return succeeded
    runs = team.mlflow.pipeline_runs("build")
    evidence["workspace_build_runs"] = [f"{r.info.run_id[:8]} {r.info.status}" for r in runs[:10]]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if finished:
        steps = [c.data.tags.get("wth.step") for c in team.mlflow.children(finished[0].info.run_id)]
        return passed(f"build pipeline run {finished[0].info.run_id[:8]} finished in the workspace",
                      steps=[s for s in steps if s], **evidence)
    where = "in Azure DevOps or " if team.devops is not None else ""
    return failed(f"no succeeded build pipeline run {where}in the workspace (a run tagged wth.pipeline=build "
                  "with status FINISHED): run your build pipeline until it succeeds", **evidence)


def build_pipeline_of(team, run):
    """The finished build pipeline run `run` belongs to (itself or its parent), else None."""
    parent_id = run.data.tags.get("mlflow.parentRunId")
    for candidate in (run, team.mlflow.run(parent_id) if parent_id else None):
        if candidate is not None and candidate.data.tags.get("wth.pipeline") == "build":
            return candidate
    return None


def _lineage_problem(team, version) -> tuple[str | None, dict]:
    """What breaks `version`'s lineage to a finished build pipeline run (None: nothing), and the evidence."""
    tags = dict(version.tags or {})
    evidence = {"version": version.version, "tags": {k: tags.get(k) for k in (*LINEAGE_TAGS, "build_id")},
                "source_run_id": version.run_id}
    missing = [k for k in LINEAGE_TAGS if not tags.get(k)]
    if missing:
        return f"version {version.version} lacks the lineage tag(s) {', '.join(missing)}", evidence
    run = team.mlflow.run(tags["run_id"])
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
    pipeline = build_pipeline_of(team, run)
    evidence["build_pipeline_run"] = pipeline.info.run_id if pipeline else None
    if pipeline is None:
        return (f"version {version.version} was registered from run {tags['run_id'][:8]}, which is not part of a "
                "build pipeline run (neither it nor its parent run is tagged wth.pipeline=build): register the "
                "model from your build pipeline"), evidence
    if pipeline.info.status != "FINISHED":
        return (f"version {version.version} comes from build pipeline run {pipeline.info.run_id[:8]}, which is "
                f"{pipeline.info.status}, not FINISHED"), evidence
    return None, evidence


@check("C2.6", "Registered version's lineage tags link to a finished run", points=10, anchor="success-criteria",
       depends=("C1.3",))
def lineage(team) -> object:
    """The champion, else the newest version that the build pipeline registered (after retraining the
    champion comes from the retrain pipeline; the build pipeline's version still shows the lineage)."""
    champion = team.mlflow.champion
    candidates = ([champion] if champion else []) + [v for v in team.mlflow.versions[:10]
                                                     if not champion or v.version != champion.version]
    first = None
    for version in candidates:
        problem, evidence = _lineage_problem(team, version)
        if problem is None:
            tags = version.tags
            return passed(f"version {version.version} links to finished run {tags['run_id'][:8]} of build pipeline run "
                          f"{evidence['build_pipeline_run'][:8]}, trained on {tags['train_start']}..{tags['train_end']} "
                          f"(data {tags['data_sha256'][:12]})", **evidence)
        first = first or (problem, evidence)
    problem, evidence = first
    others = f" (and none of the other {len(candidates) - 1} version(s) qualifies)" if len(candidates) > 1 else ""
    return failed(problem + others, **evidence)
