"""Helpers shared by the serving tests (a uniquely named module: tests/ dirs are not packages)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from console_scripts import CLI, WTH, in_process, installed  # noqa: F401  (CLI, WTH, installed: re-exported)

from solution import workspace
from solution.servers import free_port  # noqa: F401  (re-exported)
from wth import processes

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_END = "2013-12-31"


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


def cli(*args: str) -> subprocess.CompletedProcess:
    """`wth-solution ARGS` in this process; `installed` runs the installed command."""
    from solution import cli as solution_cli

    return in_process(solution_cli.main, "wth-solution", *args)


def register(ws, forecast, tags: dict[str, str]):
    """Log `forecast` as the product's pyfunc model in a run and register it (what `train` ends with)."""
    import mlflow

    from solution import model_logging

    ws.activate()
    with mlflow.start_run():
        info = model_logging.log(forecast)
    return workspace.register(ws, info.model_uri, {"train_end": f"{forecast.train_end:%Y-%m-%d}", **tags})


@dataclass
class Load:
    """What `under_load` saw: each answer's mark, in order, and every failed request."""

    seen: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    marked: int = 0  # answers seen by the time the action returned
    result: object = None


def under_load(request: Callable[[requests.Session], requests.Response], mark: Callable[[requests.Response], str],
               action: Callable[[], object], clients: int = 8, deadline_s: float | None = None) -> Load:
    """`action()` while `clients` threads send `request` in a loop (half a second before it and after):
    `mark` of every 200 answer, and any other answer or error as a failure."""
    load, stop = Load(), threading.Event()

    def client():
        deadline = time.monotonic() + deadline_s if deadline_s else None
        with requests.Session() as session:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    response = request(session)
                    if response.status_code == 200:
                        load.seen.append(mark(response))
                    else:
                        load.failures.append(f"{response.status_code} {response.text[:80]}")
                except requests.RequestException as err:
                    load.failures.append(repr(err))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        load.result = action()
        load.marked = len(load.seen)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return load
