"""`deploy --host`: the router listens where a coach's grader on another machine can reach it, with key
auth on unless `--auth none` is given; moving it to another address on the same port is refused with a
reason (no rollout can share the port). That a default deploy listens on loopback only is checked in
test_serve_endpoint.py."""

from __future__ import annotations

import sys

import pytest
import requests
from serve_tools import cli, free_port, listening

from solution import endpoint
from solution.endpoint import keys
from wth import smoke

OTHER_LOOPBACK = "127.0.0.2"  # not 127.0.0.1: reached only by a server bound to every interface


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "darwin", reason="macOS configures only 127.0.0.1 on lo0: 127.0.0.2 cannot "
                                                    "stand in for another machine")
def test_host_all_interfaces_takes_key_auth_unless_told_otherwise(clean_endpoint):
    ws, port = clean_endpoint, free_port()
    done = cli("deploy", "--workspace", str(ws.root), "--port", str(port), "--host", "0.0.0.0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"http://127.0.0.1:{port}/score"
    assert "other machines use http://<this machine's address>" in done.stdout
    assert "key auth is on" in done.stdout and str(keys.path(ws)) in done.stdout
    uri = f"http://{OTHER_LOOPBACK}:{port}/score"
    assert requests.post(uri, json={"steps": 3}, timeout=10).status_code == 401
    answer = requests.post(uri, json={"steps": 3}, headers=smoke.headers(keys.read(ws)["primary"]), timeout=10)
    assert answer.status_code == 200 and len(answer.json()["forecast"]) == 3
    assert endpoint.status(ws).serving and endpoint.read_record(ws).auth_mode == "key"
    assert endpoint.read_record(ws).host == "0.0.0.0"

    same_port = cli("deploy", "--workspace", str(ws.root), "--port", str(port), "--host", "127.0.0.1")
    assert same_port.returncode == 2 and "two routers cannot share the port" in same_port.stderr
    assert endpoint.status(ws).serving and endpoint.read_record(ws).host == "0.0.0.0"  # nothing changed

    open_door = cli("deploy", "--workspace", str(ws.root), "--host", "0.0.0.0", "--auth", "none")  # a rollout
    assert open_door.returncode == 0, open_door.stderr
    assert "key auth is off (--auth none)" in open_door.stdout
    assert requests.post(uri, json={"steps": 3}, timeout=10).status_code == 200
    assert endpoint.read_record(ws).auth_mode == "none"
    endpoint.stop(ws)
    assert not listening(port)
