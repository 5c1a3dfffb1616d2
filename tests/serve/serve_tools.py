"""Helpers shared by the serving tests (a uniquely named module: tests/ dirs are not packages)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from solution import workspace

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


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if text in proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") \
                        and not pid_gone(int(proc.name)):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


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
