"""Processes the endpoint starts and stops: liveness that survives stale pid files and reused pids,
process-group shutdown, loopback ports, and a start that waits for health or cleans up."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from wth.errors import StepFailed

HOST = "127.0.0.1"
STOP_TIMEOUT = 15.0


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def ours(pid: int, markers: tuple[str, ...]) -> bool:
    """True if `pid` is alive and its command line is one of ours (a pid file may be stale, the pid reused)."""
    if not pid or not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return any(marker in cmdline for marker in markers)


def group_alive(pgid: int) -> bool:
    alive(pgid)  # reap the leader if it is our child
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the session leader (gunicorn finishes the requests in hand), SIGKILL the group if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while group_alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)


def port_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
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


def reachable(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host` (0.0.0.0: all interfaces)."""
    return HOST if host in ("0.0.0.0", "") else host


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


def spawn(argv: list[str], cwd: Path, log: Path, env: dict[str, str], marker: str, port: int,
           timeout: float, what: str, host: str = HOST) -> int:
    """Start `argv` in its own session, logging to `log`; return its pid once `port` answers GET / with 200.

    On a crash or a deadline the whole process group is killed and `StepFailed` names the log.
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    (cwd / f"{marker}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            stop_group(proc.pid, 2)
            raise StepFailed(f"{what} exited with code {code} while starting (log {log}: {tail(log)})")
        if healthy(port, timeout=1.0, host=host):
            return proc.pid
        if time.monotonic() > deadline:
            stop_group(proc.pid, 5)
            raise StepFailed(f"{what} was not healthy within {timeout:.0f} s; stopped it (log {log}: {tail(log)})")
        time.sleep(0.2)
