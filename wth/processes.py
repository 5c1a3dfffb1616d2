"""Processes the hack starts and stops, on every platform (psutil: no /proc, no signals Windows lacks).

A process is named by its pid *and* its creation time (`Identity`): a pid file or record that outlives
its process may name a pid the system has since given to someone else, and the creation time tells
the two apart. Stopping takes the whole tree: servers (gunicorn, uvicorn) run their workers as
children, and stopping only the parent left the workers serving and holding the port.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

STOP_TIMEOUT = 15.0
HOST = "127.0.0.1"  # where the hack's servers listen unless told otherwise
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # addresses no other machine reaches


def reachable(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host` (0.0.0.0: all interfaces)."""
    return HOST if host in ("0.0.0.0", "", "::") else host

_CLOCK_SLACK_S = 0.05  # psutil reports creation times rounded differently across calls on some systems


def _started(process: psutil.Process) -> float:
    """When `process` started, in a form a step of the system clock does not move: seconds after boot on
    Linux and macOS, where psutil derives the creation time from the current clock (psutil#2526: a clock
    step, or btime's whole second flipping as the clock is slewed, would make a live server look like a
    reused pid and leave it running); on Windows, the creation time the system recorded."""
    created = process.create_time()
    return created if sys.platform == "win32" else created - psutil.boot_time()


@dataclass(frozen=True)
class Identity:
    """One process: its pid and when it started (`_started`)."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> Identity | None:
        try:
            return cls(pid, _started(psutil.Process(pid)))
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            return None

    def process(self) -> psutil.Process | None:
        """The running process, or None when it is gone, a zombie or a later process with the same pid."""
        if self.pid <= 0:
            return None
        try:
            process = psutil.Process(self.pid)
            if abs(_started(process) - self.created) > _CLOCK_SLACK_S:
                return None
            if process.status() == psutil.STATUS_ZOMBIE:
                _reap(process)
                return None
            return process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def running(self) -> bool:
        return self.process() is not None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Identity | None:
        """The identity a pid file holds; None when it is missing or unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(int(data["pid"]), float(data["created"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None


def _reap(process: psutil.Process) -> None:
    """Collect a zombie child of ours, so it stops counting as a process."""
    try:
        process.wait(timeout=0)
    except (psutil.TimeoutExpired, psutil.NoSuchProcess, ChildProcessError):
        pass


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(process)
            return False
        return True
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and every process below it, the children first; [] when `pid` is gone."""
    try:
        root = psutil.Process(pid)
        return [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []


def _signal(processes: list[psutil.Process], kill: bool = False) -> None:
    for process in processes:
        try:
            process.kill() if kill else process.terminate()
        except psutil.NoSuchProcess:
            pass


def stop_tree(pid: int, timeout: float = STOP_TIMEOUT, identity: Identity | None = None) -> None:
    """Stop `pid` and its descendants: the root first (a server finishes the requests in hand and stops its
    workers), then whatever of the tree outlives it; kill what lingers. With `identity`, only if it is still
    that process (a reused pid is left alone)."""
    if identity is not None and not identity.running():
        return
    processes = tree(pid)
    if not processes:
        return
    root, below = processes[-1], processes[:-1]
    _signal([root])
    _, alive_ = psutil.wait_procs([root], timeout=timeout)
    below = [process for process in below if process.is_running()]
    _signal(below)
    _, lingering = psutil.wait_procs(below, timeout=min(5.0, timeout))
    _signal(lingering + alive_, kill=True)
    psutil.wait_procs(lingering + alive_, timeout=5)


def popen(argv: list[str], **kwargs) -> subprocess.Popen:
    """`subprocess.Popen` in a process group of its own, so a Ctrl-C in the terminal reaches only us and we
    stop the child with its tree (POSIX: a new session; Windows: a new process group)."""
    if sys.platform == "win32":
        kwargs["creationflags"] = kwargs.get("creationflags", 0) | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    return subprocess.Popen(argv, **kwargs)

