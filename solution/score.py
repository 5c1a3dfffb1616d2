"""The endpoint's entry script: Azure ML's `init()`/`run()` contract, served locally by `azmlinfsrv` and
in Azure ML by the same server inside the inference container.

Speaks the endpoint contract of DESIGN.md:
  POST {"steps": N} (1..365), optional "interval" (0..1)
    -> 200 {"forecast": [...], "dates": [...], "model": {"name", "version"}} (+ "lower", "upper")
  POST {"data": [N]} (the original hack's form) -> 200 {"result": [...]}
  anything else -> 4xx {"error": "<reason>"}; never 200 with an error, never 500 for a client mistake.

`run()` is decorated with `@rawhttp` so it sees the request itself: it can refuse a huge body before
reading it and choose its status codes through `AMLResponse`.

The model is found as Azure ML lays it out: `AZUREML_MODEL_DIR` is `.../<name>/<version>` and the MLflow
model sits in it or in a sub-folder. Name and version come from `identity.json` when the local
deployment wrote one, else MLflow's `registered_model_meta`, else that path. A forecast from a fixed
origin is a fixed path, so scoring slices lists prepared in `init()`: no model call per request.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

MAX_STEPS = 365
MAX_BODY = 1 << 20  # 1 MiB: a scoring request is a few dozen bytes
IDENTITY_FILE = "identity.json"

_forecast = None  # the model's Forecast (solution/model_code.py), set by init()
_model: dict = {}
_dates: list[str] = []


def find_model(model_dir: str | os.PathLike) -> Path:
    """The folder holding `MLmodel`: the model dir itself or its shallowest sub-folder that has one."""
    root = Path(model_dir)
    found = sorted(root.rglob("MLmodel"), key=lambda p: len(p.parts))
    if not found:
        raise FileNotFoundError(f"no MLflow model (MLmodel file) under {root}")
    return found[0].parent


def identify(model_dir: str | os.PathLike, model_path: Path) -> dict:
    """{"name", "version"} of the served model (see the module docstring for where it comes from)."""
    root = Path(model_dir)
    identity = root / IDENTITY_FILE
    if identity.is_file():
        data = json.loads(identity.read_text())
        return {"name": str(data["name"]), "version": str(data["version"])}
    meta = model_path / "registered_model_meta"
    if meta.is_file():
        import yaml

        data = yaml.safe_load(meta.read_text()) or {}
        if data.get("model_name") and data.get("model_version") is not None:
            return {"name": str(data["model_name"]), "version": str(data["model_version"])}
    resolved = root.resolve()
    return {"name": resolved.parent.name, "version": resolved.name}


def init() -> None:
    global _forecast, _model, _dates
    import mlflow.pyfunc

    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model_path = find_model(model_dir)
    _forecast = mlflow.pyfunc.load_model(str(model_path)).unwrap_python_model().forecast
    _model = identify(model_dir, model_path)
    full = _forecast.predict(MAX_STEPS)
    if not all(map(math.isfinite, full["forecast"])):
        raise ValueError(f"model {_model} forecasts non-finite values: refusing to serve it")
    _dates = [f"{day:%Y-%m-%d}" for day in full.index]
    _bands.cache_clear()


@lru_cache(maxsize=64)
def _bands(interval: float | None) -> dict[str, list[float]]:
    """The full 365-day forecast (and interval bounds) as plain lists, rounded to cents."""
    frame = _forecast.predict(MAX_STEPS, interval)
    return {column: [round(float(v), 2) for v in frame[column]] for column in frame.columns}


class BadRequest(Exception):
    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def _error(reason: str, status: int) -> AMLResponse:
    return AMLResponse({"error": reason}, status, json_str=True)


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
        raise BadRequest(f"'interval' must be a probability between 0 and 1 (e.g. 0.9), got {json.dumps(value)[:40]}")
    return round(float(value), 4)


def _read_json(request) -> object:
    if request.method != "POST":
        raise BadRequest('use POST with a JSON body such as {"steps": 30}', 405)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"request body over {MAX_BODY} bytes", 413)
    body = request.stream.read(MAX_BODY + 1)
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


def answer(payload: object) -> dict:
    """The response body for a parsed request; `BadRequest` when it breaks the contract."""
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object such as {"steps": 30}')
    if "steps" in payload:
        unknown = sorted(set(payload) - {"steps", "interval"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}: send 'steps' and optionally 'interval'")
        steps, interval = _steps(payload["steps"]), _interval(payload.get("interval"))
        bands = _bands(interval)
        body = {"forecast": bands["forecast"][:steps], "dates": _dates[:steps], "model": dict(_model)}
        if interval is not None:
            body.update(interval=interval, lower=bands["lower"][:steps], upper=bands["upper"][:steps])
        return body
    if "data" in payload:  # the original hack's request: {"data": [N]}
        data = payload["data"]
        if not isinstance(data, list) or len(data) != 1 or set(payload) != {"data"}:
            raise BadRequest("'data' must be a list holding one integer, e.g. {\"data\": [30]}")
        return {"result": _bands(None)["forecast"][: _steps(data[0])]}
    raise BadRequest("missing 'steps': send JSON such as {\"steps\": 30}")


@rawhttp
def run(request):
    try:
        body = answer(_read_json(request))
    except BadRequest as err:
        return _error(str(err), err.status)
    return AMLResponse(body, 200, json_str=True)


def openapi() -> dict:
    """An OpenAPI 3 description of the contract; the local deployment serves it at /swagger.json?version=3.

    `run()` takes the raw request, which inference-schema's decorators cannot describe, so it is written
    out here and the server publishes it as a user-supplied `swagger3.json`.
    """
    numbers = {"type": "array", "items": {"type": "number"}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    return {
        "openapi": "3.0.1",
        "info": {"title": "transactions forecast", "version": "1.0",
                 "description": "Daily mean PaidAmount forecast for the days after the model's training end."},
        "paths": {
            "/": {"get": {"summary": "liveness", "responses": {"200": {"description": "Healthy"}}}},
            "/score": {"post": {
                "summary": "forecast the next `steps` days",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    {"type": "object", "required": ["steps"], "additionalProperties": False, "properties": {
                        "steps": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS},
                        "interval": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}},
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
                    "405": {"description": "not a POST", "content": {"application/json": {"schema": error}}},
                    "413": {"description": "body over 1 MiB", "content": {"application/json": {"schema": error}}},
                },
            }},
        },
    }
