"""`wth-solution demo`: the whole reference path, end to end, on the bundled data.

It leaves the workspace in the state a team has after every challenge (docs/contracts.md): an initial and a
retrained version with the promotion decision recorded, build/release/retrain/drift pipeline runs, and
drift runs on a clean and on a drifted batch; then it grades itself like a team.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from wth.config import BUNDLED_DATA, INITIAL_TRAIN_END

from . import clients, drift, endpoint, pipelines, retrain, workspace
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


def run(ws: Workspace, keep_serving: bool = False, port: int | None = None, progress: Progress = print) -> int:
    started = time.perf_counter()
    _fresh(ws, progress)

    _section(progress, "Challenge 01-02: build pipeline on the bundled data, trained on 2013")
    initial = pipelines.build(ws, source="bundled", train_end=INITIAL_TRAIN_END, progress=progress)

    _section(progress, "Challenge 03: release pipeline, smoke test and the analyst's report")
    live = endpoint.release_pipeline(ws, port=port, progress=progress)
    progress(f"scoring URI: {live.scoring_uri}")
    progress(f"  curl -s -X POST {live.scoring_uri} -H 'Content-Type: application/json' -d '{{\"steps\": 7}}'")
    page = clients.write_report(ws, uri=live.scoring_uri, steps=30)
    progress(f"report scored through the endpoint: {page}")

    try:
        _section(progress, "Challenge 04: retrain with the 2014 data; promote only if better")
        decision = retrain.run(ws, new_data=str(BUNDLED_DATA / "new-data-2014.csv.gz"), progress=progress)

        _section(progress, "Challenge 05: drift on a clean and on a drifted batch")
        clean = drift.run(ws, batch=str(BUNDLED_DATA / "batch-clean.csv.gz"), progress=progress)
        drifted = drift.run(ws, batch=str(BUNDLED_DATA / "batch-drifted.csv.gz"), progress=progress)

        _section(progress, "Grading this workspace as a team")
        from grader import report as scoreboard
        from grader.runner import grade_workspace

        live = endpoint.read_record(ws)
        # the workspace and endpoint checks: this repo is the hack itself, not a team's repository
        graded = grade_workspace(ws.root, endpoint=live.scoring_uri, name="reference")
        page_board = scoreboard.write_html(ws.root / "scoreboard.html", "What The Hack - MLOps (demo)", [graded])
        progress(scoreboard.table([graded]))
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
