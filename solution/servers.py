"""Servers the endpoint starts: loopback ports, health probes, and a start that waits for health or stops
the whole tree it began (process identity and tree stopping are `wth.processes`, shared with `wth ui`)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

from wth.errors import StepFailed
from wth.processes import HOST, STOP_TIMEOUT, Identity, popen, reachable, stop_tree

LAUNCH = Path(__file__).resolve().parent / "endpoint" / "launch.py"  # run by path: it imports only wth.processes


def port_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: SO_REUSEADDR would let us bind a port in use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def healthy(port: int, timeout: float = 2.0, host: str = HOST) -> bool:
    conn = http.client.HTTPConnection(reachable(host), port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def stop(identity: Identity | None, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the tree of `identity` if that process still runs (a reused pid is left alone)."""
    if identity is not None:
        stop_tree(identity.pid, timeout, identity=identity)


def stop_named(pid_file: Path) -> Identity | None:
    """Stop the tree of the process a pid file names, if that process still runs, and remove the file;
    the identity stopped, or None."""
    identity = Identity.load(pid_file)
    running = identity is not None and identity.running()
    if running:
        stop(identity)
    pid_file.unlink(missing_ok=True)
    return identity if running else None


def spawn(argv: list[str], cwd: Path, log: Path, env: dict[str, str], marker: str, port: int,
          timeout: float, what: str, host: str = HOST) -> Identity:
    """Start `argv` in a process group of its own, logging to `log`; `<cwd>/<marker>.pid` names it from
    before it runs (written by the launcher: see launch.py). Return its identity once `port` answers
    GET / with 200; on a crash or a deadline stop the whole tree and raise `StepFailed` naming the log."""
    with open(log, "ab") as out:
        proc = popen([sys.executable, str(LAUNCH), str(cwd / f"{marker}.pid"), *argv], cwd=cwd, stdout=out,
                     stderr=out, stdin=subprocess.DEVNULL, env=env)
    identity = Identity.of(proc.pid) or Identity(proc.pid, 0.0)
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            stop_tree(proc.pid, 2)
            raise StepFailed(f"{what} exited with code {code} while starting (log {log}: {tail(log)})")
        if healthy(port, timeout=1.0, host=host):
            return identity
        if time.monotonic() > deadline:
            stop_tree(proc.pid, 5)
            raise StepFailed(f"{what} was not healthy within {timeout:.0f} s; stopped it (log {log}: {tail(log)})")
        time.sleep(0.1)
