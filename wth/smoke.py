"""The smoke test: checks a live scoring URI against the endpoint contract (`wth.contract`).

`check()` returns the failing points (an empty list is a pass), so a deployment, a release pipeline
and `wth smoke-test` share it. It must be able to fail: a server that answers 200 with an error
payload fails it, as does one that serves another version than expected. Intervals are optional in
the contract: they are judged where the endpoint offers them, and required only when asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests

from . import contract
from .errors import StepFailed, UsageError

HORIZONS = (1, 7, 30, contract.MAX_STEPS)
TIMEOUT = (3, 15)


def validate_uri(uri: str) -> str:
    """`uri` if it is an http(s) URL; `UsageError` (bad input) otherwise."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--uri {uri!r} is not an http(s) URL such as http://127.0.0.1:5001/score")
    return uri


def key_from_env(name: str | None) -> str | None:
    """The endpoint key held by the environment variable `name`; `UsageError` when it is unset."""
    if not name:
        return None
    key = os.environ.get(name, "").strip()
    if not key:
        raise UsageError(f"--key-env {name}: the environment variable {name} is not set (export it with the endpoint's key)")
    return key


def headers(key: str | None = None, deployment: str | None = None) -> dict[str, str]:
    """The request headers of a client: the key as Azure ML expects it, and a deployment to aim at."""
    out = {}
    if key:
        out[contract.KEY_HEADER] = f"Bearer {key}"
    if deployment:
        out[contract.DEPLOYMENT_HEADER] = deployment
    return out


def health_url(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def refused_key(status: int, with_key: bool) -> str | None:
    """What a 401/403 means to the person running a client, or None for any other status."""
    if status not in (401, 403):
        return None
    if with_key:
        return f"the endpoint refused the key ({status}): it is wrong or was regenerated"
    return f"the endpoint wants a key ({status}): pass --key-env NAME with the key in that environment variable"


def _post(session: requests.Session, uri: str, body: bytes) -> requests.Response:
    return session.post(uri, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def check(uri: str, expected_version: str | None = None, expected_train_end: str | None = None,
          key: str | None = None, deployment: str | None = None, require_interval: bool = False,
          health: bool = True) -> list[str]:
    """Every way `uri` breaks the contract, as one line each; [] when it passes. `health=False` skips
    the `GET /` liveness check: an Azure ML managed online endpoint routes `/score` only."""
    first_day = date.fromisoformat(expected_train_end) + timedelta(days=1) if expected_train_end else None
    failures: list[str] = []
    with requests.Session() as session:
        session.trust_env = False
        session.headers.update(headers(key, deployment))
        if health:
            try:
                live = session.get(health_url(uri), timeout=TIMEOUT)
            except requests.RequestException as err:
                return [f"GET {health_url(uri)}: unreachable ({type(err).__name__})"]
            if live.status_code != 200:
                failures.append(f"GET {health_url(uri)}: status {live.status_code}, expected 200")
        answers = {}
        for steps in HORIZONS:
            where = json.dumps({"steps": steps})
            try:
                response = _post(session, uri, where.encode())
            except requests.RequestException as err:
                failures.append(f"{where}: no answer ({type(err).__name__})")
                continue
            if response.status_code != 200:
                reason = refused_key(response.status_code, bool(key))
                failures.append(f"{where}: {reason}" if reason else f"{where}: status {response.status_code}, expected 200")
                if reason:
                    return failures  # every other request would say the same
                continue
            body = _json(response)
            found = [f"{where}: {problem}" for problem in contract.forecast_problems(body, steps, first_day)]
            if not found and expected_version is not None and body["model"]["version"] != str(expected_version):
                found.append(f"{where}: serves version {body['model']['version']}, expected {expected_version}")
            if not found and contract.offers_interval(body):
                found = [f"{where}: {problem}" for problem in contract.interval_problems(body, steps)]
            failures += found
            if not found:
                answers[steps] = body
        if len(answers) > 1:
            longest = answers[max(answers)]
            for steps, body in answers.items():
                if body["forecast"] != longest["forecast"][:steps] or body["dates"] != longest["dates"][:steps]:
                    failures.append(f'{{"steps": {steps}}}: not the first {steps} days of the longer forecast')
        failures += _check_interval(session, uri, require_interval)
        where = '{"data": [3]} (the original form)'
        try:
            legacy = _post(session, uri, b'{"data": [3]}')
            if legacy.status_code != 200 or contract.legacy_problems(_json(legacy), 3):
                failures.append(f'{where}: expected 200 with "result" of 3 numbers, '
                                f"got {legacy.status_code} {legacy.text[:80]}")
        except requests.RequestException as err:
            failures.append(f"{where}: no answer ({type(err).__name__})")
        for bad in contract.BAD_INPUTS:
            try:
                response = _post(session, uri, bad.body)
            except requests.RequestException as err:
                failures.append(f"bad input ({bad.label}): no answer ({type(err).__name__})")
                continue
            problem = contract.refusal_problem(response.status_code, _json(response))
            if problem:
                failures.append(f"bad input ({bad.label}): {problem}; got {response.status_code} {response.text[:80]!r}")
    return failures


def run(uri: str, progress: Callable[[str], None] = print, **expect) -> int:
    """`check(uri, **expect)` for a person: each failure on a line, `StepFailed` if any; 0 on a pass."""
    report(uri, check(uri, **expect), progress)
    progress("smoke test passed")
    return 0


def report(uri: str, failures: list[str], progress: Callable[[str], None] = print) -> None:
    """`check`'s failures for a person (a release pipeline's smoke-test step too): each on a line, then
    `StepFailed` if there are any."""
    for line in failures:
        progress(f"  FAIL {line}")
    if failures:
        raise StepFailed(f"{len(failures)} smoke check(s) failed on {uri} (listed above)")


def _check_interval(session: requests.Session, uri: str, required: bool) -> list[str]:
    """The optional interval: judged when offered (bounds of the right length around the forecast)."""
    request = {"steps": 7, "interval": contract.INTERVAL_EXAMPLE}
    where = json.dumps(request)
    try:
        response = _post(session, uri, where.encode())
    except requests.RequestException as err:
        return [f"{where}: no answer ({type(err).__name__})"]
    body = _json(response)
    if response.status_code == 200 and contract.offers_interval(body):
        return [f"{where}: {problem}" for problem in contract.interval_problems(body, 7)]
    if response.status_code == 200:
        problems = contract.forecast_problems(body, 7)
        if problems:
            return [f"{where}: {problems[0]}"]
    elif contract.refusal_problem(response.status_code, body):
        return [f"{where}: status {response.status_code}, expected 200 (or a 4xx refusal with an 'error')"]
    return [f"{where}: no 'lower'/'upper' bounds (required by --require-interval)"] if required else []
