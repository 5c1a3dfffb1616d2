"""`wth ui`: the MLflow UI on a workspace folder, stopped with its whole tree.

`mlflow ui` starts a web server whose workers are its children; stopping only its pid left them
serving (and holding the port). Here the server runs as our child and, on Ctrl-C or when our own
process is asked to stop (SIGTERM, or Ctrl-Break on Windows), the whole tree is stopped.

With `--host` other than loopback the UI is a tracking server the coach's grader can read
(`workspace: {tracking_uri: http://<laptop>:5000}` in the teams file); MLflow then checks the Host
header against `--allowed-hosts`, so the UI allows any host name on that port.

MLflow's server also starts a job runner for its GenAI jobs (four more Python processes: the runner
and three huey consumers) unless told not to. A tracking UI has no use for it; without it the first
page comes 3 s sooner and a stop takes 1.6 s instead of 5.8 s (measured on a 2-core Linux machine).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import UsageError
from .processes import HOST, LOOPBACK, reachable, stop_tree
from .store import DB_FILE

DEFAULT_PORT = 5000  # MLflow's own


def command(workspace: str | Path, host: str = HOST, port: int = DEFAULT_PORT) -> list[str]:
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
    """The environment `mlflow ui` runs in: ours, without MLflow's job runner."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def serve(workspace: str | Path, host: str = HOST, port: int = DEFAULT_PORT,
          progress: Callable[[str], None] = print) -> int:
    """Run the UI in the foreground until Ctrl-C or a stop request; returns the server's exit status."""
    argv = command(workspace, host, port)
    progress(f"MLflow UI on http://{reachable(host)}:{port} (Ctrl+C to stop)")
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
