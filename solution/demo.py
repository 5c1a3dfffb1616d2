"""`wth-solution demo`: the whole reference path end to end, on the bundled data, through real CI.

The demo is a team that has done every challenge with the reference answers: it makes the reference
repository (`reference_repository`: the workflows and tests of Coach/Solutions with the bundled data),
gives it a CI origin (`wth ci init`), and pushes: the build workflow runs under act on the pushed
commit. Then it dispatches the release (approving production, as a coach would with `wth ci
approve`), the retraining, the release of the new champion, and the drift workflow on its schedule
and on the drifted batch: every pipeline run in the workspace is made by a CI run. It leaves the
workspace in the state a team has after every challenge (docs/contracts.md), then the coach's grader
grades it like a team, through its command line (`wth-grader scoreboard` on a teams file naming the
workspace, the endpoint and the repository): the solution imports nothing of the grader.
"""

from __future__ import annotations

import runpy
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from wth.ci import origin as ci_origin
from wth.ci import runner as ci_runner
from wth.ci.records import Record, Records
from wth.errors import StepFailed
from wth.store import DB_FILE
from wth.workspace_contract import BATCH_FILES, DRIFT_DETECTED, DRIFT_PIPELINE, PIPELINE_TAG

from . import endpoint, workspace
from .workspace import REPO_ROOT, Workspace

Progress = Callable[[str], None]
REFERENCE = REPO_ROOT / "Coach" / "Solutions"  # the answers of Challenges 02-05 as a team's repository holds them
ANSWERS = REPO_ROOT / "solution"  # the reference answers' code: this package
KIT_BUILDER = REPO_ROOT / "kit" / "build.py"  # `make student-kit`: the tree a team's repository starts as
REPORT = "scoreboard.json"  # the grader's JSON report on the demo's team, in the workspace
AUTHOR = ("-c", "user.name=wth demo", "-c", "user.email=demo@wth.invalid")


def _fresh(ws: Workspace, progress: Progress) -> None:
    """Start from an empty workspace; a previous one is kept once as `<workspace>.previous`."""
    if not ws.is_local or not (ws.root / DB_FILE).exists():
        return
    endpoint.stop(ws)
    previous = ws.root.with_name(ws.root.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    ws.root.rename(previous)
    progress(f"(the workspace already held a run of the demo: moved it to {previous})")


def _section(progress: Progress, title: str) -> None:
    progress(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def reference_repository(root: Path) -> Path:
    """A team's repository holding the reference answers, committed on `main`: the student kit's tree (the kit's
    own builder: Student/, resources/ with the bundled data, the tools in tools/), the starter project copied to
    starter/ as the kit's README has a team do (C0.2), and the answers (Coach/Solutions: the offline path's
    workflows, the tests, the project file defining the command the workflows run; solution/, its package). So the
    grader finds what it finds in a team's: its tests importing the tools and its own code, its workflows running
    a command it defines. The Azure path's workflows stay out: they sign in to Azure."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wth-kit-") as out:
        tree, _ = runpy.run_path(str(KIT_BUILDER))["build"](Path(out))
        shutil.move(tree, root)
    shutil.copytree(root / "resources" / "starter", root / "starter")
    built = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "azureml-*")

    def answers(folder: str, names: list[str]) -> set[str]:  # the kit's README stays the team's; Solutions' is the coach's
        return {*built(folder, names), *({"README.md"} if Path(folder) == REFERENCE else set())}

    shutil.copytree(REFERENCE, root, dirs_exist_ok=True, ignore=answers)
    shutil.copytree(ANSWERS, root / ANSWERS.name, ignore=built)
    for args in (("init", "--quiet", "--initial-branch=main"), ("add", "-A"), (*AUTHOR, "commit", "--quiet", "-m",
                                                                              "the reference answers")):
        ci_origin.git(*args, cwd=root)
    return root


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ci(records: Records, record: Record, progress: Progress) -> Record:
    """Wait for a CI run, approving production when it asks (as a coach would: `wth ci approve`)."""
    progress(f"CI run #{record.number}: {Path(record.workflow).name} ({record.event} on {record.sha[:8]})")

    def approve(waiting: Record) -> None:
        if waiting.waiting_for and not waiting.approved(waiting.waiting_for):
            records.approve(waiting.number, waiting.waiting_for)
            progress(f"  approved {waiting.waiting_for} (wth ci approve {waiting.number} --environment {waiting.waiting_for})")

    done = records.wait(record.number, on_waiting=approve)
    jobs = ", ".join(f"{name} {state.get('result')}" for name, state in done.jobs.items())
    took = f" in {done.ended - done.started:.0f} s" if done.ended and done.started else ""
    progress(f"  {done.conclusion}{took} ({jobs}); log: wth ci log {done.number}")
    if done.conclusion != "success":
        raise StepFailed(f"CI run #{done.number} ({done.workflow}) ended {done.conclusion}: {done.reason}; its log:\n"
                         + records.log_text(done)[-3000:])
    return done


def grade(ws: Workspace, scoring_uri: str, repo: Path, progress: Progress) -> Path:
    """`wth-grader scoreboard` on this workspace, endpoint and repository as the coach's reference team, on every
    check (the repository's tests run in the grader's sandbox); returns the scoreboard page, beside it the JSON
    report (`REPORT`)."""
    folder = ws.root / "grader"
    folder.mkdir(parents=True, exist_ok=True)
    teams = folder / "teams.yaml"
    teams.write_text(yaml.safe_dump({
        "event": "What The Hack - MLOps (demo)", "grader_dir": str(folder),
        "teams": [{"name": "reference", "reference": True, "workspace": str(ws.root), "endpoint": scoring_uri,
                   "repo": str(repo)}]}))
    page = ws.root / "scoreboard.html"
    command = [sys.executable, "-m", "grader", "scoreboard", "--config", str(teams), "--html", str(page),
               "--json", str(ws.root / REPORT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise StepFailed(f"the grader failed on the demo's workspace: {done.stderr.strip()[-300:]}")
    progress(done.stdout.rstrip())
    return page


def run(ws: Workspace, keep_serving: bool = False, port: int | None = None, progress: Progress = print) -> int:
    started = time.perf_counter()
    _fresh(ws, progress)
    port = port or endpoint.DEFAULT_PORT

    _section(progress, "Challenge 00: the reference repository, its CI origin (wth ci init)")
    repo = reference_repository(ws.root / "repo")
    origin = ci_origin.init(repo, ws.root)
    records = Records(ws.root)
    progress(f"repository {repo}, origin {origin.path}; CI runs record into {ws.root}")

    def dispatch(workflow: str, event: str = "workflow_dispatch", **inputs: str) -> Record:
        return _ci(records, ci_runner.start(origin, workflow, event, "main", inputs), progress)

    try:
        _section(progress, "Challenge 01-02: git push runs the build workflow (tests, then the build pipeline)")
        pushed = ci_origin.git("push", "--quiet", "origin", "main", cwd=repo)
        for line in (pushed.stderr + pushed.stdout).splitlines():
            progress(f"  {line.strip()}")
        build = _ci(records, records.latest(), progress)

        _section(progress, "Challenge 03: the release workflow: staging, smoke test, approval, production, report")
        release = dispatch("release.yml", port=str(port), staging_port=str(_free_port()))
        live = endpoint.read_record(ws)
        progress(f"scoring URI: {live.scoring_uri}")
        progress(f"  curl -s -X POST {live.scoring_uri} -H 'Content-Type: application/json' -d '{{\"steps\": 7}}'")
        progress(f"report scored through the endpoint: {ws.root / 'report.html'}")

        _section(progress, "Challenge 04: the retrain workflow with the 2014 data; promote only if better")
        dispatch("retrain.yml")
        dispatch("release.yml", port=str(port), staging_port=str(_free_port()))

        _section(progress, "Challenge 05: the drift workflow on its schedule (clean batch) and on the drifted batch")
        dispatch("drift.yml", event="schedule")
        dispatch("drift.yml", batch=f"resources/data/{BATCH_FILES['drifted']}")

        _section(progress, "Grading this workspace as a team")
        live = endpoint.read_record(ws)
        page_board = grade(ws, live.scoring_uri, repo, progress)
    finally:
        if not keep_serving:
            endpoint.stop(ws)

    champion = workspace.champion(ws)
    versions = sorted(int(v.version) for v in ws.client.search_model_versions(f"name = '{ws.model_name}'"))
    drift_runs = ws.client.search_runs([ws.activate()], f"tags.`{PIPELINE_TAG}` = '{DRIFT_PIPELINE}'")
    verdicts = ", ".join(f"{Path(r.data.params.get('batch', '?')).name}: "
                         f"{'drift' if r.data.metrics.get(DRIFT_DETECTED) else 'no drift'}" for r in reversed(drift_runs))
    _section(progress, f"Done in {time.perf_counter() - started:.0f} s")
    progress(f"workspace        {ws.root}")
    progress(f"repository       {repo} (its CI runs: cd {_shown(repo)} && wth ci runs)")
    progress(f"CI runs          build #{build.number}, release #{release.number}, and {len(records.all()) - 2} more")
    progress(f"registered       versions {', '.join(map(str, versions))}")
    progress(f"champion         version {champion.version}, trained to {champion.tags['train_end']}")
    progress(f"drift verdicts   {verdicts}")
    progress(f"report           {ws.root / 'report.html'}")
    progress(f"scoreboard       {page_board}")
    progress(f"MLflow UI        wth-solution workspace serve --workspace {_shown(ws.root)}")
    if keep_serving:
        progress(f"endpoint         {live.scoring_uri} (stop it with `wth-solution endpoint stop`)")
    else:
        progress("endpoint         stopped (`make serve` or `wth-solution demo --keep-serving` keeps it up)")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
