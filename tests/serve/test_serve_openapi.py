"""The endpoint keeps the OpenAPI document it publishes, on a real deployment through its router: the document
is valid OpenAPI 3.0, schemathesis with every check finds no failure (key auth on, then off), a method a path
does not take gets 405 with `Allow`, and the interval's edge values are answered 200 or 4xx, never 5xx.
Tests run in file order and share one endpoint."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest
import requests
from serve_tools import cli, free_port

from solution.endpoint import keys
from wth import contract, smoke

PORT = free_port()
ROOT = f"http://127.0.0.1:{PORT}"
EXAMPLES = 30  # per operation and phase: about 100 requests a run, a few seconds of CPU


@pytest.fixture(scope="module")
def keyed(clean_endpoint):
    ws = clean_endpoint
    done = cli("deploy", "--workspace", str(ws.root), "--port", str(PORT), "--auth", "key")
    assert done.returncode == 0, done.stderr
    return ws, keys.read(ws)["primary"]


def schemathesis(tmp_path, *options: str) -> subprocess.CompletedProcess:
    """`st run` on the deployment's own document, stateless phases, every check, a fixed seed."""
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{ROOT}/swagger.json?version=3", "--checks", "all",
         "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES), "--seed", "28", "--workers", "1",
         "--generation-database", "none", "--no-color", *options],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)


def no_failure(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert counted and counted.group(1) == counted.group(2) and int(counted.group(1)) >= 50, run.stdout[-2000:]


def test_the_published_document_is_the_contracts_and_valid_openapi_3_0(keyed):
    from openapi_spec_validator import validate

    _, key = keyed
    spec = requests.get(f"{ROOT}/swagger.json", params={"version": "3"}, headers=smoke.headers(key), timeout=30).json()
    assert spec == json.loads(json.dumps(contract.openapi()))
    validate(spec)


@pytest.mark.parametrize(("method", "path", "allowed"), [("PUT", "/score", "POST"), ("GET", "/score", "POST"),
                                                         ("DELETE", "/", "GET, HEAD"), ("POST", "/", "GET, HEAD"),
                                                         ("PATCH", "/swagger.json", "GET, HEAD")])
def test_a_method_a_path_does_not_take_gets_405_with_allow(keyed, method, path, allowed):
    _, key = keyed
    answer = requests.request(method, ROOT + path, json={"steps": 3}, headers=smoke.headers(key), timeout=30)
    assert answer.status_code == 405 and answer.headers["Allow"] == allowed
    assert isinstance(answer.json()["error"], str)


def interval_edges() -> list[str]:
    """The interval as JSON text: both bounds and what lies just inside and outside them, numbers JSON has
    and Python's parser takes besides, other types, and values drawn (seeded) ever nearer to 0 and to 1."""
    drawn = random.Random(28)
    near = [10 ** -drawn.uniform(0, 330) for _ in range(12)] + [1 - 10 ** -drawn.uniform(0, 17) for _ in range(12)]
    return ["0", "-0.0", "0.0", "5e-324", "1e-400", "1e-9", "0.5", "0.99999", "0.9999999999999999",
            "0.99999999999999999999", "1", "1.0", "1.0000000000000002", "-1e-9", "1e308", "1e400", "-1e400",
            "NaN", "Infinity", "-Infinity", "1" + "0" * 400, "null", "true", '"0.5"', "[0.5]", "{}",
            *map(repr, near)]


def test_the_intervals_edges_are_answered_200_or_4xx_never_5xx(keyed):
    """200 exactly where the contract takes the value (as Python reads the JSON number), with the value echoed
    and bounds around the forecast; a 4xx with an error otherwise."""
    _, key = keyed
    with requests.Session() as session:
        for text in interval_edges():
            for steps in (48, contract.MAX_STEPS):
                body = b'{"steps": %d, "interval": %s}' % (steps, text.encode())
                answer = session.post(f"{ROOT}/score", data=body, timeout=30,
                                      headers={**smoke.headers(key), "Content-Type": "application/json"})
                try:
                    taken = contract.parse_request(json.loads(body))
                except contract.BadRequest:
                    taken = None
                if taken is None:
                    assert 400 <= answer.status_code < 500 and "error" in answer.json(), (text, answer.text[:200])
                    continue
                assert answer.status_code == 200, (text, answer.text[:200])
                found = answer.json()
                assert contract.forecast_problems(found, steps) == []
                if taken.interval is not None:
                    assert found["interval"] == taken.interval and contract.interval_problems(found, steps) == []


def test_schemathesis_finds_no_failure_with_key_auth(keyed, tmp_path):
    _, key = keyed
    no_failure(schemathesis(tmp_path, "--header", f"{contract.KEY_HEADER}: Bearer {key}"))


def test_schemathesis_finds_no_failure_without_key_auth(keyed, tmp_path):
    ws, _ = keyed
    done = cli("deploy", "--workspace", str(ws.root), "--port", str(PORT), "--auth", "none")
    assert done.returncode == 0, done.stderr
    assert requests.post(f"{ROOT}/score", json={"steps": 2}, timeout=30).status_code == 200  # no key needed now
    no_failure(schemathesis(tmp_path))
