"""Benchmark of the local endpoint -> bench/results/endpoint.json.

Serves a champion with `solution.endpoint.deploy` (the real azmlinfsrv behind the router) and measures,
for `{"steps": 30}`:
  - latency of one client at a time (p50/p99), through the stable URI and straight at the deployment;
  - 8 concurrent clients for 10 s: requests/s and latency under that load (which includes queueing);
  - a rollout under the same load: failed requests (target 0).
Targets (issue 3): p50 < 10 ms, >= 200 requests/s, 0 failed requests during a rollout.

Usage: python bench/endpoint.py [--workspace DIR]   (default: a temporary workspace trained here)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from solution import endpoint, workspace  # noqa: E402

BODY = json.dumps({"steps": 30}).encode()
CLIENTS, SECONDS, SEQUENTIAL = 8, 10.0, 300


def prepare(root: Path) -> workspace.Workspace:
    """A workspace as `wth-solution pipeline build --train-end 2013-12-31` leaves it (bundled data)."""
    from solution import pipelines

    ws = workspace.resolve(root)
    pipelines.build(ws, source="bundled", train_end="2013-12-31", progress=lambda line: None)
    return ws


class Client:
    """One keep-alive HTTP connection that reconnects when the server closes it (gunicorn's sync worker does)."""

    def __init__(self, port: int):
        self.port, self.conn = port, None

    def score(self) -> int:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request("POST", "/score", body=BODY, headers={"Content-Type": "application/json"})
                response = self.conn.getresponse()
                response.read()
                if response.will_close:
                    self.conn.close()
                    self.conn = None
                return response.status
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def sequential(port: int, n: int = SEQUENTIAL) -> dict:
    client, times = Client(port), []
    for _ in range(20):
        client.score()
    for _ in range(n):
        start = time.perf_counter()
        assert client.score() == 200
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"requests": n, "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def load(port: int, seconds: float = SECONDS, during=None) -> dict:
    """CLIENTS threads scoring for `seconds` (or until `during()` returns, plus one second)."""
    stop, lock = threading.Event(), threading.Lock()
    times, failures = [], []

    def worker():
        client, mine = Client(port), []
        while not stop.is_set():
            start = time.perf_counter()
            try:
                status = client.score()
            except OSError as err:
                status = repr(err)
            if status == 200:
                mine.append(time.perf_counter() - start)
            else:
                with lock:
                    failures.append(str(status))
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    if during is None:
        time.sleep(seconds)
    else:
        time.sleep(1)
        during()
        time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = np.array(times) * 1000
    return {"clients": CLIENTS, "seconds": round(elapsed, 1), "requests": len(times) + len(failures),
            "failed": len(failures), "failures": sorted(set(failures))[:5],
            "requests_per_s": round(len(times) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a workspace with a champion (default: train one in a temporary folder)")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "endpoint.json"))
    args = parser.parse_args()
    scratch = None
    if args.workspace:
        ws = workspace.resolve(args.workspace)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="wth-bench-")
        ws = prepare(Path(scratch.name))
    load_before = os.getloadavg()
    port = endpoint.free_port()
    try:
        record = endpoint.deploy(ws, port=port, progress=print)
        direct = record.deployment.port
        result = {
            "benchmark": "endpoint", "request": json.loads(BODY),
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_before],
                        "note": "shared machine: other jobs were running; figures are a floor, not a ceiling"},
            "server": {"azmlinfsrv_workers": endpoint.WORKERS, "router": "solution.endpoint (stdlib, threaded)"},
            "sequential": {"stable_uri": sequential(port), "deployment_direct": sequential(direct)},
        }
        print("sequential", result["sequential"])
        result["concurrent"] = {"stable_uri": load(port)}
        print("concurrent", result["concurrent"])
        result["concurrent"]["deployment_direct"] = load(direct)
        print("concurrent direct", result["concurrent"]["deployment_direct"])
        rollout = load(port, during=lambda: endpoint.deploy(ws, port=port, progress=print))
        result["rollout_under_load"] = rollout
        print("rollout", rollout)
        s, c = result["sequential"]["stable_uri"], result["concurrent"]["stable_uri"]
        result["targets"] = {
            "p50_under_10ms_one_client": s["p50_ms"] < 10,
            "p50_under_10ms_8_clients": c["p50_ms"] < 10,
            "at_least_200_rps": c["requests_per_s"] >= 200,
            "zero_failed_during_rollout": rollout["failed"] == 0,
            "note": "with 8 clients always in flight the median includes queueing: latency ~ 8 / throughput "
                    "(Little's law), so p50 < 10 ms under that load needs > 800 requests/s",
        }
    finally:
        endpoint.stop(ws)
        if scratch:
            scratch.cleanup()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}: {result['targets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
