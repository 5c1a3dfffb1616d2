"""`wth-solution demo`: the whole reference path, end to end, on the bundled data.

It leaves the workspace in the state a team has after every challenge (docs/contracts.md): an initial and a
retrained version with the promotion decision recorded, build/release/retrain/drift pipeline runs, and
drift runs on a clean and on a drifted batch; then the coach's grader grades it like a team, through its
command line (`wth-grader scoreboard` on a teams file naming the workspace): the solution imports nothing
of the grader.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from wth.config import BUNDLED_DATA, INITIAL_TRAIN_END
from wth.errors import StepFailed

from . import drift, endpoint, endpoint_clients, pipelines, retrain, workspace
from .workspace import Workspace

Progress = Callable[[str], None]


def _fresh(ws: Workspace, progress: Progress) -> None:
    """Start from an empty workspace; a previous one is kept once as `<workspace>.previous`."""
    if not ws.is_local or not (ws.root / "mlflow.db").exists():
        return
    endpoint.stop(ws)
    previous = ws.root.with_name(ws.root.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    ws.root.rename(previous)
    progress(f"(the workspace already held a run of the demo: moved it to {previous})")


def _section(progress: Progress, title: str) -> None:
    progress(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def grade(ws: Workspace, scoring_uri: str, progress: Progress) -> Path:
    """`wth-grader scoreboard` on this workspace and endpoint as one team, on the checks of those two
    (this repository is the hack itself, not a team's); returns the scoreboard page."""
    folder = ws.root / "grader"
    folder.mkdir(parents=True, exist_ok=True)
    teams = folder / "teams.yaml"
    teams.write_text(yaml.safe_dump({
        "event": "What The Hack - MLOps (demo)", "grader_dir": str(folder),
        "teams": [{"name": "reference", "workspace": str(ws.root), "endpoint": scoring_uri, "repo": None}]}))
    page = ws.root / "scoreboard.html"
    command = [sys.executable, "-m", "grader", "scoreboard", "--config", str(teams), "--html", str(page),
               "--source", "workspace", "--source", "endpoint"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise StepFailed(f"the grader failed on the demo's workspace: {done.stderr.strip()[-300:]}")
    progress(done.stdout.rstrip())
    return page


def run(ws: Workspace, keep_serving: bool = False, port: int | None = None, progress: Progress = print) -> int:
    started = time.perf_counter()
    _fresh(ws, progress)

    _section(progress, "Challenge 01-02: build pipeline on the bundled data, trained on 2013")
    initial = pipelines.build(ws, source="bundled", train_end=INITIAL_TRAIN_END, progress=progress)

    _section(progress, "Challenge 03: release pipeline, smoke test and the analyst's report")
    live = endpoint.release_pipeline(ws, port=port, progress=progress)
    progress(f"scoring URI: {live.scoring_uri}")
    progress(f"  curl -s -X POST {live.scoring_uri} -H 'Content-Type: application/json' -d '{{\"steps\": 7}}'")
    page = endpoint_clients.write_report(ws, uri=live.scoring_uri, steps=30)
    progress(f"report scored through the endpoint: {page}")

    try:
        _section(progress, "Challenge 04: retrain with the 2014 data; promote only if better")
        decision = retrain.run(ws, new_data=str(BUNDLED_DATA / "new-data-2014.csv.gz"), progress=progress)

        _section(progress, "Challenge 05: drift on a clean and on a drifted batch")
        clean = drift.run(ws, batch=str(BUNDLED_DATA / "batch-clean.csv.gz"), progress=progress)
        drifted = drift.run(ws, batch=str(BUNDLED_DATA / "batch-drifted.csv.gz"), progress=progress)

        _section(progress, "Grading this workspace as a team")
        live = endpoint.read_record(ws)
        page_board = grade(ws, live.scoring_uri, progress)
    finally:
        if not keep_serving:
            endpoint.stop(ws)

    champion = workspace.champion(ws)
    _section(progress, f"Done in {time.perf_counter() - started:.0f} s")
    progress(f"workspace        {ws.root}")
    progress(f"initial model    version {initial.version}, trained to {initial.tags['train_end']}")
    progress(f"retrained        {'promoted' if decision.promoted else 'rejected'}: {decision.reason}")
    progress(f"champion         version {champion.version}, trained to {champion.tags['train_end']}")
    progress(f"drift verdicts   clean batch: {'drift' if clean == drift.DRIFT else 'no drift'}, "
             f"drifted batch: {'drift' if drifted == drift.DRIFT else 'no drift'}")
    progress(f"report           {page}")
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
