"""Fixtures for the serving tests: one trained workspace for the whole directory (training and the MLflow
store cost seconds on a shared 2-core machine), and helpers to run the CLI and find free ports.

Every endpoint a test starts is stopped by the test module that started it, and `clean_endpoint`
guarantees it at module teardown whatever happened."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from solution import endpoint, workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = [str(Path(sys.executable).parent / "wth-solution")]
TRAIN_END = "2013-12-31"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def pid_gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


def register(ws, forecast, tags: dict[str, str]):
    """Log `forecast` as the product's pyfunc model in a run and register it (what `train` ends with)."""
    import mlflow

    from solution import model

    ws.activate()
    with mlflow.start_run():
        info = model.log(forecast)
    return workspace.register(ws, info.model_uri, {"train_end": f"{forecast.train_end:%Y-%m-%d}", **tags})


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, real_table):
    """A workspace with the hack window acquired and a champion trained on its 2013 part.

    The data goes through the product's `acquire`; the model is one Holt-Winters fit logged and registered
    through the product's model and workspace modules rather than the full build pipeline, whose model
    selection backtests nine models (minutes on a shared 2-core machine; tests/solution covers it)."""
    from solution import data, forecast

    ws = workspace.resolve(tmp_path_factory.mktemp("serve-ws"))
    bundled = REPO_ROOT / "resources" / "data" / "TransactionHistory.csv.gz"
    acquired = data.acquire(ws.root, str(bundled if bundled.exists() else real_table))
    series = acquired.series()[:TRAIN_END]
    version = register(ws, forecast.fit("holt_winters", series), {"mase": "0.9"})
    workspace.set_champion(ws, version.version)
    return ws


@pytest.fixture(scope="module")
def clean_endpoint(trained_ws):
    """The trained workspace, with whatever endpoint a module leaves behind stopped at its end."""
    yield trained_ws
    endpoint.stop(trained_ws)
