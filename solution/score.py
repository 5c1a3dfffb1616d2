"""The endpoint's entry script: Azure ML's `init()`/`run()` contract, served locally by `azmlinfsrv` and
in Azure ML by the same server inside the inference container.

Speaks the endpoint contract of `wth.contract`, which parses every request: `{"steps": N}` with an
optional `interval`, the original hack's `{"data": [N]}`, and a 4xx `{"error"}` for anything else.

`run()` is decorated with `@rawhttp` so it sees the request itself: it can refuse a huge body before
reading it and choose its status codes through `AMLResponse`. A local deployment is started with
`SECRET_ENV` set, and then scores only requests that bear it as `Authorization: Bearer`, which the
endpoint's router adds: a client that finds the deployment's private port cannot go round the
router's key (401). Azure ML sets no such variable; its endpoint checks the key before the container.

The model is found as Azure ML lays it out: `AZUREML_MODEL_DIR` is `.../<name>/<version>` and the MLflow
model sits in it or in a sub-folder. Name and version come from `identity.json` when the local
deployment wrote one, else MLflow's `registered_model_meta`, else that path. A forecast from a fixed
origin is a fixed path, so scoring slices lists prepared in `init()`: no model call per request.
"""

from __future__ import annotations

import hmac
import json
import math
import os
from functools import lru_cache
from pathlib import Path

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

from wth.contract import KEY_HEADER, MAX_BODY, MAX_STEPS, BadRequest, parse_body, parse_request
from wth.settings import DEPLOYMENT_SECRET

IDENTITY_FILE = "identity.json"
SECRET_ENV = DEPLOYMENT_SECRET.name

_forecast = None  # the model's Forecast (solution/model_code.py), set by init()
_model: dict = {}
_dates: list[str] = []
_router: bytes | None = None  # the Authorization value of the router's requests, when SECRET_ENV is set


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
    global _forecast, _model, _dates, _router
    import mlflow.pyfunc

    secret = DEPLOYMENT_SECRET.get()
    _router = f"Bearer {secret}".encode() if secret else None

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


def _error(reason: str, status: int) -> AMLResponse:
    return AMLResponse({"error": reason}, status, {"Allow": "POST"} if status == 405 else {}, json_str=True)


def _read_json(request) -> object:
    if request.method != "POST":
        raise BadRequest('use POST with a JSON body such as {"steps": 30}', 405)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"request body over {MAX_BODY} bytes", 413)
    return parse_body(request.stream.read(MAX_BODY + 1))


def answer(payload: object) -> dict:
    """The response body for a parsed request; `BadRequest` when it breaks the contract."""
    request = parse_request(payload)
    bands = _bands(request.interval)
    if request.legacy:
        return {"result": bands["forecast"][: request.steps]}
    body = {"forecast": bands["forecast"][: request.steps], "dates": _dates[: request.steps], "model": dict(_model)}
    if request.interval is not None:
        body.update(interval=request.interval, lower=bands["lower"][: request.steps],
                    upper=bands["upper"][: request.steps])
    return body


def _from_router(request) -> bool:
    given = request.headers.get(KEY_HEADER, "").encode("latin-1", "replace")
    return _router is None or hmac.compare_digest(given, _router)


@rawhttp
def run(request):
    if not _from_router(request):
        return _error("this deployment answers only its endpoint's router: score through the endpoint's "
                      "scoring URI (`wth-solution endpoint status` shows it)", 401)
    try:
        body = answer(_read_json(request))
    except BadRequest as err:
        return _error(str(err), err.status)
    return AMLResponse(body, 200, json_str=True)
