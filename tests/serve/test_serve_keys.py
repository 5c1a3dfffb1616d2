"""Key auth, as an Azure ML endpoint with `auth_mode: key` has it, and a router that holds up against idle
and slow clients: /score refused without the right `Authorization: Bearer <key>` (401 with an error),
`GET /` open, keys printed and rotated by the CLI and stored owner-only, the workspace's own clients
sending the key by themselves, 200 held connections not slowing ordinary requests, and slow headers
cut off. Tests run in file order and share one endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from serve_tools import REPO_ROOT, WTH, cli, free_port, listening, pid_gone

from solution import endpoint, endpoint_clients
from solution.endpoint import keys
from wth import contract, smoke
from wth.processes import popen, stop_tree

PORT = free_port()
URI = f"http://127.0.0.1:{PORT}/score"


@pytest.fixture(scope="module")
def keyed(clean_endpoint):
    ws = clean_endpoint
    done = cli("deploy", "--workspace", str(ws.root), "--port", str(PORT), "--auth", "key")
    assert done.returncode == 0, done.stderr
    assert str(keys.path(ws)) in done.stdout and "endpoint keys" in done.stdout
    return ws, keys.read(ws)


def post(key: str | None = None, **extra) -> requests.Response:
    return requests.post(URI, json={"steps": 2}, headers=smoke.headers(key) | extra, timeout=30)


def test_no_key_or_a_wrong_key_is_refused_the_right_one_served(keyed):
    ws, pair = keyed
    missing, wrong = post(), post("not-the-key")
    assert missing.status_code == wrong.status_code == 401
    assert "wants a key" in missing.json()["error"] and "not valid" in wrong.json()["error"]
    assert post(pair["primary"]).status_code == post(pair["secondary"]).status_code == 200
    scheme = requests.post(URI, json={"steps": 2}, headers={contract.KEY_HEADER: pair["primary"]}, timeout=30)
    assert scheme.status_code == 401, "the key counts only as a Bearer token"
    assert requests.get(f"http://127.0.0.1:{PORT}/", timeout=10).status_code == 200  # liveness stays open
    swagger = requests.get(f"http://127.0.0.1:{PORT}/swagger.json", timeout=10)
    assert swagger.status_code == 401
    around = requests.post(endpoint.read_record(ws).deployment.url, json={"steps": 2},
                           headers=smoke.headers(pair["primary"]), timeout=30)
    assert around.status_code == 401, "the endpoint's key scored the deployment on its own port"


def test_keys_are_stored_for_the_owner_only(keyed):
    ws, pair = keyed
    status = cli("endpoint", "status", "--workspace", str(ws.root)).stdout
    assert "auth          key" in status and pair["primary"] not in status and pair["secondary"] not in status
    if sys.platform == "win32":
        pytest.skip("Windows has no POSIX mode bits: the file inherits the user profile's owner-only ACL")
    assert stat.S_IMODE(keys.path(ws).stat().st_mode) == 0o600


def test_the_cli_prints_and_rotates_keys(keyed):
    ws, pair = keyed
    shown = cli("endpoint", "keys", "--workspace", str(ws.root))
    assert shown.returncode == 0 and pair["primary"] in shown.stdout and pair["secondary"] in shown.stdout
    rotated = cli("endpoint", "keys", "--regenerate", "secondary", "--workspace", str(ws.root))
    assert rotated.returncode == 0, rotated.stderr
    new = keys.read(ws)
    assert new["primary"] == pair["primary"] and new["secondary"] != pair["secondary"]
    assert new["secondary"] in rotated.stdout
    assert post(pair["secondary"]).status_code == 401  # the router re-read the keys file
    assert post(new["secondary"]).status_code == 200 and post(new["primary"]).status_code == 200


def test_the_workspace_clients_send_the_key_and_the_students_cli_takes_it_from_the_environment(keyed, tmp_path):
    ws, _ = keyed
    lines = []
    assert endpoint_clients.smoke_test(ws, progress=lines.append) == 0, lines
    assert endpoint_clients.write_report(ws, out=tmp_path / "r.html", steps=3).is_file()
    env = {**os.environ, "TEAM_KEY": keys.read(ws)["primary"]}
    good = subprocess.run(WTH + ["smoke-test", "--uri", URI, "--key-env", "TEAM_KEY"], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO_ROOT)
    assert good.returncode == 0, good.stdout + good.stderr
    bare = subprocess.run(WTH + ["smoke-test", "--uri", URI], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert bare.returncode == 1 and "wants a key" in bare.stdout + bare.stderr


def test_200_idle_and_slow_header_connections_do_not_hold_up_requests(keyed):
    _, pair = keyed
    held = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            if i % 2:
                sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            held.append(sock)
        took = []
        for _ in range(20):
            started = time.perf_counter()
            assert post(pair["primary"]).status_code == 200
            took.append(time.perf_counter() - started)
    finally:
        for sock in held:
            sock.close()
    assert max(took) < 1.0, took


@contextlib.contextmanager
def own_router(ws, *options: str):
    """A router of its own on the endpoint's record and keys, started with `options`: (its port, its pid).
    Its first line says it serves: no probe connection is counted among the ones a test opens."""
    port = free_port()
    router = popen([*endpoint.rollout.router_argv(ws, port, "127.0.0.1"), *options], cwd=REPO_ROOT,
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert router.stdout.readline().startswith(f"router on http://127.0.0.1:{port}/"), "the router did not start"
        yield port, router.pid
    finally:
        stop_tree(router.pid)
        router.stdout.close()
    assert pid_gone(router.pid) and not listening(port)


def test_a_client_that_sends_its_headers_slowly_is_cut_off(keyed):
    ws, pair = keyed
    with own_router(ws, "--header-timeout", "0.5") as (port, _):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
            slow.sendall(b"POST /score HTTP/1.1\r\n")
            started = time.perf_counter()
            for _ in range(20):  # a byte every 0.1 s: it never finishes within the header timeout
                try:
                    slow.sendall(b"X")
                except OSError:
                    break
                time.sleep(0.1)
            slow.settimeout(5)
            try:
                closed = slow.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed and time.perf_counter() - started < 3
        answer = requests.post(f"http://127.0.0.1:{port}/score", json={"steps": 2}, timeout=30,
                               headers=smoke.headers(pair["primary"]))
        assert answer.status_code == 200  # the same record and keys as the endpoint's own router


BIG = 8 << 20  # the largest body the router takes


def head_of_a_body(size: int, *fields: bytes) -> bytes:
    return b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n" % (
        size, b"".join(field + b"\r\n" for field in fields))


def test_a_request_without_the_key_is_refused_before_its_body_is_read(keyed):
    """401 while the 8 MB body is still unsent (a router that read it first would wait for it, then say 408),
    and the connection closed: its unread body is never taken for a request."""
    _, pair = keyed
    for fields in ((), (b"Authorization: Bearer not-the-key",)):
        with socket.create_connection(("127.0.0.1", PORT), timeout=60) as client:
            client.sendall(head_of_a_body(BIG, *fields))
            received = b""
            while chunk := client.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401 ") and b"\r\nConnection: close" in head, received[:300]
        assert "key" in json.loads(body)["error"]
    assert post(pair["primary"]).status_code == 200


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory (Linux: VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
def test_unauthenticated_8_mb_bodies_do_not_grow_the_router(keyed):
    """20 clients send 8 MB bodies without a key at once: the router drops them as they come (a router that
    buffered them first would hold 160 MB)."""
    ws, _ = keyed
    with own_router(ws) as (port, pid):
        before = peak_rss_mb(pid)
        statuses = []

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
                try:
                    client.sendall(head_of_a_body(BIG) + b" " * BIG)
                except OSError:  # the router closed the connection after its answer: the rest was not wanted
                    pass
                statuses.append(client.recv(12)[9:12])

        threads = [threading.Thread(target=send) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        grown = peak_rss_mb(pid) - before
    assert statuses == [b"401"] * 20
    assert grown < 40, f"the router's peak memory grew {grown:.0f} MB"


def hold(port: int, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """`count` connections from `source` that send nothing."""
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(30)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        held.append(sock)
    return held


def closed_by_the_router(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def serves(sock: socket.socket) -> bool:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock.recv(12) == b"HTTP/1.1 200"


def test_2050_idle_connections_from_one_client_do_not_lock_out_another(keyed):
    """As many idle connections as the router holds, and more, from one client: an honest request still gets
    200, its connection taking the place of one that waited longest."""
    ws, pair = keyed
    with own_router(ws, "--header-timeout", "300") as (port, _):
        held = hold(port, 2050)
        try:
            answer = requests.post(f"http://127.0.0.1:{port}/score", json={"steps": 2}, timeout=30,
                                   headers=smoke.headers(pair["primary"]))
            assert answer.status_code == 200, answer.text
        finally:
            for sock in held:
                sock.close()


def test_a_connection_over_a_cap_takes_the_place_of_the_longest_idle(keyed):
    """With 20 connections per client: the first of 30 idle ones from one client are closed, the last 20 kept,
    and an honest request from that client takes the place of the oldest of those."""
    ws, pair = keyed
    with own_router(ws, "--header-timeout", "300", "--max-per-client", "20") as (port, _):
        held = hold(port, 30)
        try:
            assert requests.post(f"http://127.0.0.1:{port}/score", json={"steps": 2}, timeout=30,
                                 headers=smoke.headers(pair["primary"])).status_code == 200
            assert all(closed_by_the_router(sock) for sock in held[:11])
            assert all(serves(sock) for sock in held[11:])
        finally:
            for sock in held:
                sock.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="connects from 127.0.0.2 and 127.0.0.3")
def test_a_full_router_makes_room_from_the_client_holding_the_most(keyed):
    """40 connections at most, 25 per client: 25 idle from one address and 15 from another fill it; a third
    client's request is answered, and the room is made from the first address."""
    ws, pair = keyed
    with own_router(ws, "--header-timeout", "300", "--max-connections", "40", "--max-per-client", "25") as (port, _):
        many, few = hold(port, 25, "127.0.0.2"), hold(port, 15, "127.0.0.3")
        try:
            assert requests.post(f"http://127.0.0.1:{port}/score", json={"steps": 2}, timeout=30,
                                 headers=smoke.headers(pair["primary"])).status_code == 200
            assert closed_by_the_router(many[0]) and all(serves(sock) for sock in many[1:] + few)
        finally:
            for sock in many + few:
                sock.close()


def test_the_power_bi_script_sends_the_key_as_a_bearer_token():
    script = (REPO_ROOT / "resources" / "powerbi" / "Forecast.pq").read_text()
    assert f'{contract.KEY_HEADER} = "Bearer " & ApiKey' in script


def test_stop_keeps_the_keys_for_the_next_deploy(keyed):
    ws, _ = keyed
    before = keys.read(ws)
    assert endpoint.stop(ws) is True
    assert keys.read(ws) == before and not listening(PORT)


def test_the_docs_state_the_routers_caps():
    from solution.endpoint import router

    for doc in ("README.md", "docs/contracts.md"):
        text = " ".join((REPO_ROOT / doc).read_text().split())
        assert f"at most {router.MAX_CONNECTIONS:,}" in text and f"{router.MAX_PER_CLIENT} from one client address" in text
