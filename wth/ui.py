"""`wth ui`: the MLflow UI on a workspace folder, stopped with its whole tree.

`mlflow ui` starts a web server whose workers are its children; stopping only its pid left them
serving (and holding the port). Here the server runs as our child and, on Ctrl-C or when our own
process is asked to stop (SIGTERM, or Ctrl-Break on Windows), the whole tree is stopped.

With `--host` other than loopback the UI is a tracking server the coach's grader can read
(`workspace: {tracking_uri: http://<laptop>:5050}` in the teams file); MLflow then checks the Host
header against `--allowed-hosts`, so the UI allows any host name on that port. The port is not
MLflow's 5000: macOS's AirPlay Receiver holds that one.

MLflow's server also starts a job runner for its GenAI jobs (four more Python processes: the runner
and three huey consumers) unless told not to. A tracking UI has no use for it; without it the first
page comes 3 s sooner and a stop takes 1.6 s instead of 5.8 s (measured on a 2-core Linux machine).
MLflow 3.2 and later send anonymous usage data unless `MLFLOW_DISABLE_TELEMETRY` is true
(https://mlflow.org/docs/latest/community/usage-tracking): a classroom's UI sends none (the server then
tells its page `disable_ui_telemetry`).

MLflow 3's UI (3.17) has no server switch for what it shows first: it opens in its GenAI view, and on a
browser's first visit to a page it loads as localhost, 127.0.0.1 or ::1 it opens its assistant panel, a
quarter of the screen (mlflow/mlflow#24056); no server option, environment variable or URL parameter
reaches either (`MLFLOW_ENABLE_REMOTE_ASSISTANT` only opens the assistant to other hosts). The page keeps
both choices in the browser's local storage (`mlflow.workflowType`, `mlflow.assistant.panelOpen`,
`mlflow.assistant.fab.autoOpenedOnFirstLoad`, mlflow/mlflow#20124). So the links printed open the
experiment's runs in the machine-learning view (the `workflowType` query parameter, which the page reads
before its stored choice) and the model registry (whose page drops that parameter), and one line says
what to click once: the browser remembers it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from .config import EXPERIMENT
from .errors import UsageError
from .processes import HOST, LOOPBACK, reachable, stop_tree
from .store import DB_FILE

PORT = 5050  # the MLflow UI's port on a team laptop: 5001 is the endpoint's, 5000 AirPlay's on a Mac
ENVIRONMENT = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no job runner for GenAI jobs
    "MLFLOW_DISABLE_TELEMETRY": "true",  # no usage data sent from a classroom
}
MACHINE_LEARNING_VIEW = "workflowType=machine_learning"
FIRST_VISIT = ("on a browser's first visit, pick 'Model training' (top left) and close the assistant panel (x): "
               "the browser remembers both")


def command(workspace: str | Path, host: str = HOST, port: int = PORT) -> list[str]:
    """The `mlflow ui` command line for a workspace folder (refused when it holds no MLflow store)."""
    root = Path(workspace).resolve()
    db = root / DB_FILE
    if not db.is_file():
        raise UsageError(f"no MLflow store at {db}: create the workspace first (Challenge 00)")
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{db.as_posix()}",
            "--host", host, "--port", str(port), "--workers", "1"]  # one team's UI: MLflow's 4 workers start 4x slower
    if host not in LOOPBACK:
        argv += ["--allowed-hosts", "*"]
    return argv


def environment() -> dict[str, str]:
    """The environment `mlflow ui` runs in: ours, without MLflow's job runner and telemetry."""
    return {**os.environ, **ENVIRONMENT}


def _experiment_id(db: Path, name: str) -> str | None:
    """The id of the active experiment `name` in a workspace's store, read without MLflow (a moment, not 3 s)."""
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
                              (name,)).fetchone()
    except sqlite3.Error:  # a store MLflow has not finished creating: the list of experiments will do
        return None
    return str(row[0]) if row else None


def links(workspace: str | Path, host: str = HOST, port: int = PORT, experiment: str = EXPERIMENT) -> dict[str, str]:
    """The pages to open: the experiment's runs (the list of experiments before it exists) and the model
    registry, in the UI's machine-learning view."""
    base = f"http://{reachable(host)}:{port}/#"
    found = _experiment_id(Path(workspace).resolve() / DB_FILE, experiment)
    runs = f"/experiments/{found}/runs" if found else "/experiments"
    return {"runs": f"{base}{runs}?{MACHINE_LEARNING_VIEW}", "models": f"{base}/models?{MACHINE_LEARNING_VIEW}"}


def serve(workspace: str | Path, host: str = HOST, port: int = PORT,
          progress: Callable[[str], None] = print) -> int:
    """Run the UI in the foreground until Ctrl-C or a stop request; returns the server's exit status."""
    argv = command(workspace, host, port)
    pages = links(workspace, host, port)
    progress(f"MLflow UI on http://{reachable(host)}:{port} (Ctrl+C to stop)\n"
             f"  the runs of {EXPERIMENT}: {pages['runs']}\n  the registered models: {pages['models']}\n"
             f"  {FIRST_VISIT}")
    server = subprocess.Popen(argv, cwd=Path(workspace).resolve(), env=environment())

    def stop(*_):
        raise KeyboardInterrupt

    stop_signals = [signal.SIGTERM] + ([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else [])
    previous = {sig: signal.signal(sig, stop) for sig in stop_signals}
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_tree(server.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
