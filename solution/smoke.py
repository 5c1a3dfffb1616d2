"""The smoke test: checks a live scoring URI against the endpoint contract of DESIGN.md.

`check()` returns the failing points (an empty list is a pass), so the deployment, the release pipeline,
the demo and `wth-solution smoke-test` share it. It must be able to fail: a server that answers 200
with an error payload fails it, as does one that serves another version than the champion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests

from .errors import StepFailed, UsageError

HORIZONS = (1, 7, 30, 365)
BAD_INPUTS: dict[str, bytes] = {
    "not JSON": b"{bad",
    "empty object": b"{}",
    "a list": b"[]",
    "steps 0": b'{"steps": 0}',
    "steps 366": b'{"steps": 366}',
    "steps a string": b'{"steps": "x"}',
    "steps 1e9": b'{"steps": 1e9}',
    "steps true": b'{"steps": true}',
    "steps 2.5": b'{"steps": 2.5}',
    "body over 1 MB": b'{"steps": 1, "pad": "' + b"x" * (1 << 20) + b'"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}
TIMEOUT = (3, 15)


def validate_uri(uri: str) -> str:
    """`uri` if it is an http(s) URL; `UsageError` (bad input) otherwise."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--uri {uri!r} is not an http(s) URL such as http://127.0.0.1:5001/score")
    return uri


def health_url(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _post(session: requests.Session, uri: str, body: bytes) -> requests.Response:
    return session.post(uri, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _finite_numbers(values) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _check_forecast(steps: int, body, expected_version: str | None, first_day: date | None) -> list[str]:
    where = f'{{"steps": {steps}}}'
    if not isinstance(body, dict):
        return [f"{where}: answer is not a JSON object"]
    if "error" in body:
        return [f"{where}: 200 with an error payload {json.dumps(body)[:120]}"]
    failures = []
    forecast, dates, model = body.get("forecast"), body.get("dates"), body.get("model")
    if not _finite_numbers(forecast) or len(forecast) != steps:
        failures.append(f"{where}: 'forecast' is not a list of {steps} finite numbers")
    try:
        days = [date.fromisoformat(d) for d in dates] if isinstance(dates, list) else None
    except (TypeError, ValueError):
        days = None
    if days is None or len(days) != steps:
        failures.append(f"{where}: 'dates' is not a list of {steps} YYYY-MM-DD dates")
    elif any(b - a != timedelta(days=1) for a, b in zip(days, days[1:])):
        failures.append(f"{where}: 'dates' are not consecutive days")
    elif first_day is not None and days[0] != first_day:
        failures.append(f"{where}: first date {days[0]} is not the day after the training end ({first_day})")
    if not (isinstance(model, dict) and isinstance(model.get("name"), str) and isinstance(model.get("version"), str)):
        failures.append(f"{where}: 'model' does not give a name and a version as strings")
    elif expected_version is not None and model["version"] != str(expected_version):
        failures.append(f"{where}: serves version {model['version']}, expected {expected_version}")
    for bound in ("lower", "upper"):
        if bound in body and (not _finite_numbers(body[bound]) or len(body[bound]) != steps):
            failures.append(f"{where}: '{bound}' is not a list of {steps} finite numbers")
    return failures


def check(uri: str, expected_version: str | None = None, expected_train_end: str | None = None,
          key: str | None = None) -> list[str]:
    """Every way `uri` breaks the contract, as one line each; [] when it passes.

    `key` is sent as `Authorization: Bearer <key>`, as Azure ML endpoints with key auth expect.
    """
    first_day = date.fromisoformat(expected_train_end) + timedelta(days=1) if expected_train_end else None
    failures: list[str] = []
    with requests.Session() as session:
        if key:
            session.headers["Authorization"] = f"Bearer {key}"
        try:
            health = session.get(health_url(uri), timeout=TIMEOUT)
        except requests.RequestException as err:
            return [f"GET {health_url(uri)}: unreachable ({type(err).__name__})"]
        if health.status_code != 200:
            failures.append(f"GET {health_url(uri)}: status {health.status_code}, expected 200")
        answers = {}
        for steps in HORIZONS:
            try:
                response = _post(session, uri, json.dumps({"steps": steps}).encode())
            except requests.RequestException as err:
                failures.append(f'{{"steps": {steps}}}: no answer ({type(err).__name__})')
                continue
            if response.status_code != 200:
                failures.append(f'{{"steps": {steps}}}: status {response.status_code}, expected 200')
                continue
            body = _json(response)
            found = _check_forecast(steps, body, expected_version, first_day)
            failures += found
            if not found:
                answers[steps] = body
        if len(answers) > 1:
            longest = answers[max(answers)]
            for steps, body in answers.items():
                if body["forecast"] != longest["forecast"][:steps] or body["dates"] != longest["dates"][:steps]:
                    failures.append(f'{{"steps": {steps}}}: not the first {steps} days of the longer forecast')
        interval = {"steps": 7, "interval": 0.9}
        try:
            body = _json(_post(session, uri, json.dumps(interval).encode()))
            ok = isinstance(body, dict) and all(
                _finite_numbers(body.get(k)) and len(body[k]) == 7 for k in ("lower", "forecast", "upper"))
            if not ok or not all(lo <= hi for lo, hi in zip(body["lower"], body["upper"])):
                failures.append(f"{json.dumps(interval)}: no 'lower' <= 'upper' bounds of 7 finite numbers")
        except requests.RequestException as err:
            failures.append(f"{json.dumps(interval)}: no answer ({type(err).__name__})")
        try:
            legacy = _post(session, uri, b'{"data": [3]}')
            body = _json(legacy)
            if legacy.status_code != 200 or not isinstance(body, dict) or not _finite_numbers(body.get("result")) \
                    or len(body["result"]) != 3:
                failures.append(f'{{"data": [3]}} (the original form): expected 200 with "result" of 3 numbers, '
                                f"got {legacy.status_code} {legacy.text[:80]}")
        except requests.RequestException as err:
            failures.append(f'{{"data": [3]}}: no answer ({type(err).__name__})')
        for name, payload in BAD_INPUTS.items():
            try:
                response = _post(session, uri, payload)
            except requests.RequestException as err:
                failures.append(f"bad input ({name}): no answer ({type(err).__name__})")
                continue
            body = _json(response)
            if not 400 <= response.status_code < 500 or not (isinstance(body, dict) and isinstance(body.get("error"), str)):
                failures.append(f"bad input ({name}): expected 4xx with an 'error' field, "
                                f"got {response.status_code} {response.text[:80]!r}")
    return failures


def command(ws, uri: str | None = None, progress: Callable[[str], None] = print) -> int:
    """`wth-solution smoke-test`: check the workspace's endpoint (or `uri`) against the contract and the champion."""
    from . import endpoint, workspace

    if uri is None:
        record = endpoint.read_record(ws)
        if record is None:
            raise UsageError(f"no endpoint deployed in {ws.root}: pass --uri or run `wth-solution deploy`")
        uri = record.scoring_uri
    validate_uri(uri)
    champion = workspace.champion(ws)
    expected = str(champion.version) if champion else None
    train_end = champion.tags.get("train_end") if champion else None
    progress(f"smoke-testing {uri}" + (f" (expecting champion version {expected})" if expected else ""))
    failures = check(uri, expected_version=expected, expected_train_end=train_end)
    for line in failures:
        progress(f"  FAIL {line}")
    if failures:
        raise StepFailed(f"{len(failures)} smoke check(s) failed on {uri} (listed above)")
    progress("smoke test passed")
    return 0
