"""The endpoint contract, written once: what every team's scoring endpoint must speak.

The reference solution's entry script parses requests with `parse_request` and publishes
`openapi()`; the smoke test (`wth.smoke`) and the grader's challenge-03 checks judge answers with
`forecast_problems`, `interval_problems` and `refusal_problem` and send the same `BAD_INPUTS`;
`Student/Challenge-03.md` shows `TABLE` (a test keeps the two in step).

Stdlib only: the entry script imports this module inside the inference server, where the
environment holds the model's requirements and little else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta

MAX_STEPS = 365
MAX_BODY = 1 << 20  # 1 MiB: a scoring request is a few dozen bytes
KEY_HEADER = "Authorization"  # "Bearer <key>", as Azure ML endpoints with key auth expect
DEPLOYMENT_HEADER = "azureml-model-deployment"  # aims a request at one named deployment
INTERVAL_EXAMPLE = 0.9

TABLE = (
    ("`GET /`", "`200` when the server is live (no key needed)"),
    (f'`POST /score` with `{{"steps": N}}`, `N` an integer 1..{MAX_STEPS}',
     '`200` with `{"forecast": [N numbers], "dates": [N "YYYY-MM-DD"], "model": {"name": "...", '
     '"version": "..."}}`: the N days after the model\'s training end'),
    (f'optional: `{{"steps": N, "interval": p}}`, `p` a probability between 0 and 1 (e.g. {INTERVAL_EXAMPLE})',
     'the same, plus `"lower": [N numbers]` and `"upper": [N numbers]`, with lower <= forecast <= upper; '
     "an endpoint without intervals may ignore or refuse `interval`"),
    ('`POST /score` with `{"data": [N]}` (the original hack\'s form)', '`200` with `{"result": [N numbers]}`'),
    (f"with key auth (an Azure ML endpoint): `POST /score` without `{KEY_HEADER}: Bearer <key>`, or a wrong key",
     '`401`'),
    ("anything else: not JSON, `steps` missing, not an integer (`true` is not one), out of range, "
     f"a body over {MAX_BODY // (1 << 20)} MiB or deeply nested",
     'a `4xx` status with `{"error": "<reason>"}`'),
)


def table_markdown() -> str:
    """`TABLE` as the Markdown table the challenge shows."""
    lines = ["| request | answer |", "|---|---|"]
    return "\n".join(lines + [f"| {request} | {answer} |" for request, answer in TABLE])


@dataclass(frozen=True)
class BadInput:
    label: str
    body: bytes


# Every one must get a 4xx status with {"error": "<reason>"}: never 200, never 500.
BAD_INPUTS = (
    BadInput("not JSON", b"steps=7"),
    BadInput("missing steps", b"{}"),
    BadInput("a list", b"[]"),
    BadInput("steps 0", b'{"steps": 0}'),
    BadInput(f"steps {MAX_STEPS + 1}", b'{"steps": %d}' % (MAX_STEPS + 1)),
    BadInput("steps a string", b'{"steps": "7"}'),
    BadInput("steps 1e9", b'{"steps": 1e9}'),
    BadInput("steps true", b'{"steps": true}'),
    BadInput("steps 7.5", b'{"steps": 7.5}'),
    BadInput(f"body over {MAX_BODY // (1 << 20)} MiB", b'{"steps": 1, "pad": "' + b"x" * MAX_BODY + b'"}'),
    BadInput("deeply nested", b"[" * 100_000 + b"]" * 100_000),
)


class BadRequest(ValueError):
    """A request that breaks the contract; `status` is the 4xx to answer with."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Request:
    steps: int
    interval: float | None = None
    legacy: bool = False  # {"data": [N]}: answered with {"result": [...]}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _steps(value) -> int:
    if not _is_int(value):
        raise BadRequest(f"'steps' must be an integer between 1 and {MAX_STEPS}, got {json.dumps(value)[:40]}")
    if not 1 <= value <= MAX_STEPS:
        raise BadRequest(f"'steps' must be between 1 and {MAX_STEPS}, got {value}")
    return value


def _interval(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise BadRequest(f"'interval' must be a probability between 0 and 1 (e.g. {INTERVAL_EXAMPLE}), "
                         f"got {json.dumps(value)[:40]}")
    return float(value)


def parse_body(body: bytes) -> object:
    """The JSON of a request body of at most `MAX_BODY` bytes; `BadRequest` otherwise."""
    if len(body) > MAX_BODY:
        raise BadRequest(f"request body over {MAX_BODY} bytes", 413)
    if not body.strip():
        raise BadRequest('empty body: send JSON such as {"steps": 30}')
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 text") from None
    except ValueError as err:
        raise BadRequest(f"body is not valid JSON ({err})") from None


def parse_request(payload: object) -> Request:
    """The request a parsed JSON body makes; `BadRequest` when it breaks the contract."""
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object such as {"steps": 30}')
    if "steps" in payload:
        unknown = sorted(set(payload) - {"steps", "interval"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}: send 'steps' and optionally 'interval'")
        return Request(_steps(payload["steps"]), _interval(payload.get("interval")))
    if "data" in payload:  # the original hack's request: {"data": [N]}
        data = payload["data"]
        if not isinstance(data, list) or len(data) != 1 or set(payload) != {"data"}:
            raise BadRequest("'data' must be a list holding one integer, e.g. {\"data\": [30]}")
        return Request(_steps(data[0]), legacy=True)
    raise BadRequest("missing 'steps': send JSON such as {\"steps\": 30}")


# --- judging answers: the smoke test and the grader share these -----------------------------------


def finite_numbers(values, length: int) -> bool:
    return isinstance(values, list) and len(values) == length and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def forecast_problems(body: object, steps: int, first_day: date | None = None) -> list[str]:
    """What is wrong with a 200 answer to `{"steps": steps}`, one line each; [] when it speaks the contract.

    `first_day`, when known, is the day after the served version's training end.
    """
    if not isinstance(body, dict):
        return ["the answer is not a JSON object"]
    if "error" in body:
        return [f"200 with an error payload {json.dumps(body)[:120]}: errors need a 4xx status"]
    problems = []
    if not finite_numbers(body.get("forecast"), steps):
        problems.append(f"'forecast' is not a list of {steps} finite numbers")
    dates = body.get("dates")
    try:
        days = [date.fromisoformat(d) for d in dates] if isinstance(dates, list) else None
    except (TypeError, ValueError):
        days = None
    if days is None or len(days) != steps or not all(isinstance(d, str) and len(d) == 10 for d in dates):
        problems.append(f"'dates' is not a list of {steps} YYYY-MM-DD dates")
    elif any(b - a != timedelta(days=1) for a, b in zip(days, days[1:])):
        problems.append("'dates' are not consecutive days")
    elif first_day is not None and days[0] != first_day:
        problems.append(f"the dates start {days[0]}, not the day after the training end ({first_day})")
    model = body.get("model")
    if not (isinstance(model, dict) and isinstance(model.get("name"), str) and model["name"]
            and isinstance(model.get("version"), str) and model["version"]):
        problems.append("'model' does not give a name and a version as strings")
    return problems


def offers_interval(body: object) -> bool:
    return isinstance(body, dict) and ("lower" in body or "upper" in body)


def interval_problems(body: dict, steps: int) -> list[str]:
    """What is wrong with the bounds of an answer that offers them (see `offers_interval`)."""
    for bound in ("lower", "upper"):
        if not finite_numbers(body.get(bound), steps):
            return [f"'{bound}' is not a list of {steps} finite numbers"]
    if not finite_numbers(body.get("forecast"), steps):
        return []  # forecast_problems says so
    if not all(lo <= f <= hi for lo, f, hi in zip(body["lower"], body["forecast"], body["upper"])):
        return ["the bounds do not hold lower <= forecast <= upper on every day"]
    return []


def legacy_problems(body: object, steps: int) -> list[str]:
    """What is wrong with a 200 answer to `{"data": [steps]}`."""
    if not isinstance(body, dict) or not finite_numbers(body.get("result"), steps):
        return [f'expected {{"result": [{steps} numbers]}}']
    return []


def refusal_problem(status: int, body: object) -> str | None:
    """Why an answer to a bad input is not a proper refusal (4xx with {"error": str}); None if it is."""
    if not 400 <= status < 500:
        return f"status {status}, expected a 4xx"
    if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
        return "no JSON 'error' field in the answer"
    return None


def openapi(title: str = "transactions forecast") -> dict:
    """An OpenAPI 3 description of the contract (the local deployment serves it at /swagger.json?version=3)."""
    numbers = {"type": "array", "items": {"type": "number"}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "version": "1.0",
                 "description": "Daily mean PaidAmount forecast for the days after the model's training end."},
        "components": {"securitySchemes": {"key": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/": {"get": {"summary": "liveness", "responses": {"200": {"description": "Healthy"}}}},
            "/score": {"post": {
                "summary": "forecast the next `steps` days",
                "security": [{"key": []}, {}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    {"type": "object", "required": ["steps"], "additionalProperties": False, "properties": {
                        "steps": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS},
                        "interval": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True,
                                     "exclusiveMaximum": True, "nullable": True}}},  # null: no interval
                    {"type": "object", "required": ["data"], "additionalProperties": False, "properties": {
                        "data": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                            "type": "integer", "minimum": 1, "maximum": MAX_STEPS}}}},
                ]}, "example": {"steps": 30}}}},
                "responses": {
                    "200": {"description": "the forecast", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "forecast": numbers, "lower": numbers, "upper": numbers, "result": numbers,
                            "dates": {"type": "array", "items": {"type": "string", "format": "date"}},
                            "interval": {"type": "number"},
                            "model": {"type": "object", "properties": {"name": {"type": "string"},
                                                                       "version": {"type": "string"}}}}}}}},
                    "400": {"description": "bad input", "content": {"application/json": {"schema": error}}},
                    "401": {"description": "missing or wrong key", "content": {"application/json": {"schema": error}}},
                    "405": {"description": "not a POST", "content": {"application/json": {"schema": error}}},
                    "413": {"description": f"body over {MAX_BODY // (1 << 20)} MiB",
                            "content": {"application/json": {"schema": error}}},
                },
            }},
        },
    }
