"""The entry script of the Azure ML inference server (`azmlinfsrv`, locally; a managed online endpoint
on Azure): `init()` loads the model once, `run()` answers one request with the endpoint contract of
Challenge 03.

    azmlinfsrv --entry_script score.py --model_dir .wth/serving/<version> --port 5001
"""

import json
import os
from datetime import date, timedelta
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import yaml
from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

MAX_STEPS = 365
MAX_BODY = 1 << 20  # 1 MiB

forecast, dates, identity = [], [], {}


def init():
    """The model under AZUREML_MODEL_DIR (the folder of its MLmodel file): its whole forecast path, the
    dates it covers, and the name and version that `mlflow artifacts download` recorded beside it."""
    global forecast, dates, identity
    folder = next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("MLmodel")).parent
    model = mlflow.pyfunc.load_model(str(folder))
    forecast = [float(v) for v in model.predict(pd.DataFrame({"steps": [MAX_STEPS]}))]
    first = date.fromisoformat(model.metadata.metadata["train_end"]) + timedelta(days=1)
    dates = [f"{first + timedelta(days=i)}" for i in range(MAX_STEPS)]
    meta = yaml.safe_load((folder / "registered_model_meta").read_text())
    identity = {"name": str(meta["model_name"]), "version": str(meta["model_version"])}


def refuse(reason, status=400):
    return AMLResponse({"error": reason}, status, json_str=True)


def steps_of(value):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_STEPS:
        raise ValueError(f"'steps' must be an integer between 1 and {MAX_STEPS}, got {json.dumps(value)[:40]}")
    return value


@rawhttp
def run(request):
    if request.method != "POST":
        return refuse("POST a JSON body such as {\"steps\": 30}", 405)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return refuse(f"the body is over {MAX_BODY} bytes", 413)
    try:
        payload = json.loads(body)
    except RecursionError:
        return refuse("the JSON is nested too deeply")
    except ValueError as err:
        return refuse(f"the body is not JSON: {err}")
    try:
        if isinstance(payload, dict) and "steps" in payload and set(payload) <= {"steps", "interval"}:  # no intervals: ignored
            steps = steps_of(payload["steps"])
            return AMLResponse({"forecast": forecast[:steps], "dates": dates[:steps], "model": identity}, 200,
                               json_str=True)
        if isinstance(payload, dict) and set(payload) == {"data"} and isinstance(payload["data"], list) \
                and len(payload["data"]) == 1:
            return AMLResponse({"result": forecast[: steps_of(payload["data"][0])]}, 200, json_str=True)
    except ValueError as err:
        return refuse(str(err))
    return refuse("send a JSON object such as {\"steps\": 30}")
