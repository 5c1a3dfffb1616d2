"""Benchmark of the endpoint router against hostile clients -> bench/results/router.json.

Serves a champion with `solution.endpoint.deploy` (key auth on, the real azmlinfsrv behind it) and starts
each router measured on its own port over the same record and keys (the header timeout raised to 300 s
so that idle connections stay idle while they are counted). For each, in this order:
  - 2,000 idle connections from one client (127.0.0.1), then 2,050: the router's resident memory, and
    the status an honest client with the key gets meanwhile;
  - 60 clients at once, each sending an 8 MB body without a key: the router's peak resident memory
    (VmHWM) over the start, the statuses, and an honest request afterwards.
Targets: the honest client gets 200 under both loads; 60 unauthenticated 8 MB bodies grow the router's
peak memory by under 40 MB (a router that buffered them before checking the key would hold 480 MB).

Usage: python bench/router.py [--workspace DIR] [--compare PATH]
  --compare PATH   measure another router file beside this one's (e.g. a previous commit's:
                   `git show COMMIT:solution/endpoint/router.py > /tmp/router-before.py`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from solution import endpoint, workspace  # noqa: E402
from solution.endpoint import keys  # noqa: E402
from wth.processes import popen, stop_tree  # noqa: E402

IDLE, MORE_IDLE, BODIES, BODY_MB = 2000, 2050, 60, 8
HEADER_TIMEOUT_S = "300"


def prepare(root: Path) -> workspace.Workspace:
    """A workspace as `wth-solution pipeline build --train-end 2013-12-31` leaves it (bundled data)."""
    from solution import pipelines

    ws = workspace.resolve(root)
    pipelines.build(ws, source="bundled", train_end="2013-12-31", progress=lambda line: None)
    return ws


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and its high-water mark (Linux's VmRSS and VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {name: round(int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024, 1)
            for name in ("VmRSS", "VmHWM")}


def honest(port: int, key: str) -> int:
    """The status of one keyed `{"steps": 2}` on a fresh connection."""
    body = b'{"steps": 2}'
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (key.encode(), len(body), body))
        return int(sock.recv(12)[9:12] or 0)


def open_from_clients(pid: int, port: int) -> int:
    return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
               for c in psutil.Process(pid).net_connections("tcp"))


def hold(port: int, count: int, held: list[socket.socket]) -> None:
    while len(held) < count:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=60))


def unauthenticated_bodies(port: int) -> Counter:
    """`BODIES` clients at once, each an 8 MB body without a key: the statuses they got (0: none)."""
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        BODY_MB << 20)
    body, statuses = b" " * (BODY_MB << 20), Counter()

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            try:
                sock.sendall(head)
                sock.sendall(body)
            except OSError:  # closed after its answer: the rest of the body was not wanted
                pass
            try:
                statuses[int(sock.recv(12)[9:12] or 0)] += 1
            except OSError:
                statuses[0] += 1

    threads = [threading.Thread(target=send) for _ in range(BODIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def measure(ws, router: Path, key: str) -> dict:
    port = endpoint.free_port()
    argv = [sys.executable, str(router), *endpoint.rollout.router_argv(ws, port, "127.0.0.1")[2:],
            "--header-timeout", HEADER_TIMEOUT_S]
    process = popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    held: list[socket.socket] = []
    try:
        if not process.stdout.readline().startswith("router on "):
            raise SystemExit(f"{router} did not start")
        shown = router.relative_to(REPO_ROOT) if router.is_relative_to(REPO_ROOT) else router
        out = {"router": str(shown), "start": memory_mb(process.pid)}
        for count in (IDLE, MORE_IDLE):
            hold(port, count, held)
            out[f"{count}_idle_connections"] = {**memory_mb(process.pid), "honest_status": honest(port, key),
                                                "held_open_by_the_router": open_from_clients(process.pid, port)}
        for sock in held:
            sock.close()
        before = memory_mb(process.pid)
        statuses = unauthenticated_bodies(port)
        after = memory_mb(process.pid)
        out[f"{BODIES}_unauthenticated_{BODY_MB}_mb_bodies"] = {
            "statuses": {str(status): n for status, n in sorted(statuses.items())},
            "peak_grew_mb": round(after["VmHWM"] - before["VmHWM"], 1), **after,
            "honest_status_after": honest(port, key)}
        return out
    finally:
        for sock in held:
            sock.close()
        stop_tree(process.pid)
        process.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a workspace with a champion (default: train one in a temporary folder)")
    parser.add_argument("--compare", type=Path, metavar="PATH", help="another router file to measure beside this one")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "router.json"))
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench/router.py reads memory from /proc: Linux only")
    scratch = tempfile.TemporaryDirectory(prefix="wth-bench-")
    ws = workspace.resolve(args.workspace) if args.workspace else prepare(Path(scratch.name))
    load_before = [round(x, 2) for x in psutil.getloadavg()]
    endpoint.deploy(ws, port=endpoint.free_port(), auth="key", progress=print)
    try:
        key = keys.read(ws)["primary"]
        routers = [endpoint.rollout.ROUTER, *([args.compare] if args.compare else [])]
        result = {
            "benchmark": "router", "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpu_count": os.cpu_count(), "load_average_at_start": load_before,
                        "note": "shared machine: other jobs were running"},
            "load": {"idle_connections": [IDLE, MORE_IDLE], "unauthenticated_bodies": BODIES, "body_mb": BODY_MB,
                     "header_timeout_s": float(HEADER_TIMEOUT_S)},
            "routers": [measure(ws, Path(router), key) for router in routers],
        }
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        endpoint.stop(ws)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
