"""Helpers shared by the serving tests (a uniquely named module: tests/ dirs are not packages)."""

from __future__ import annotations

import os
import socket
import subprocess
import sysconfig
from pathlib import Path

import psutil

from solution import workspace
from wth import processes

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sysconfig.get_path("scripts"))  # where pip put the console scripts, on every platform
CLI = [str(SCRIPTS / "wth-solution")]
WTH = [str(SCRIPTS / "wth")]
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
    """True when `pid` no longer runs (a zombie counts as gone)."""
    return not processes.alive(pid)


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] != os.getpid() and text in " ".join(proc.info["cmdline"] or ()) \
                and not pid_gone(proc.info["pid"]):
            found.append(proc.info["pid"])
    return found


def listening_ports(pids: list[int]) -> set[int]:
    """The TCP ports any of `pids` (still running) listens on."""
    ports = set()
    for pid in pids:
        try:
            ports |= {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
                      if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return ports


def tree_pids(pid: int) -> list[int]:
    return [process.pid for process in processes.tree(pid)]


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
