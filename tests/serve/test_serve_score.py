"""The entry script in-process, as azmlinfsrv calls it: init() with AZUREML_MODEL_DIR, run() with a real
flask request (the server's @rawhttp path). The same contract over HTTP is in test_endpoint.py."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

from solution import endpoint, score, workspace
from wth import contract


@pytest.fixture(scope="module")
def model_dir(trained_ws, tmp_path_factory):
    mv = workspace.champion(trained_ws)
    return endpoint.materialise(trained_ws, mv, tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="module")
def loaded(model_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(model_dir))
        score.init()
    return score


def respond(body: bytes, method: str = "POST"):
    return score.run(Request(EnvironBuilder(method=method, data=body, content_type="application/json").get_environ()))


def call(body: bytes, method: str = "POST"):
    response = respond(body, method)
    return response.status_code, json.loads(response.get_data())


def test_model_dir_is_laid_out_as_azure_ml_does(model_dir, trained_ws):
    mv = workspace.champion(trained_ws)
    assert model_dir.parts[-3:] == ("azureml-models", mv.name, str(mv.version))
    assert (model_dir / "model" / "MLmodel").is_file()
    assert score.find_model(model_dir) == model_dir / "model"


def test_identity_falls_back_to_mlflow_meta_then_to_the_azure_path(model_dir, tmp_path):
    copy = tmp_path / "azureml-models" / "some-model" / "7"
    shutil.copytree(model_dir, copy)
    assert score.identify(copy, copy / "model")["version"] != "7"  # identity.json wins
    (copy / endpoint.IDENTITY).unlink()
    meta = copy / "model" / "registered_model_meta"
    assert meta.exists(), "MLflow writes registered_model_meta when downloading models:/ URIs"
    assert score.identify(copy, copy / "model")["name"] == "transactions-forecast"
    meta.unlink()
    assert score.identify(copy, copy / "model") == {"name": "some-model", "version": "7"}


def test_forecast_matches_the_model_and_starts_after_training_end(loaded, trained_ws):
    mv = workspace.champion(trained_ws)
    status, body = call(b'{"steps": 30, "interval": 0.8}')
    assert status == 200
    assert body["model"] == {"name": mv.name, "version": str(mv.version)}
    expected = score._forecast.predict(30, 0.8)
    assert body["forecast"] == pytest.approx(expected["forecast"].tolist(), abs=0.01)
    assert body["lower"] == pytest.approx(expected["lower"].tolist(), abs=0.01)
    assert body["dates"][0] == f"{pd.Timestamp(mv.tags['train_end']) + pd.Timedelta(days=1):%Y-%m-%d}"
    assert all(lo <= f <= hi for lo, f, hi in zip(body["lower"], body["forecast"], body["upper"]))


def test_original_hack_form(loaded):
    status, body = call(b'{"data": [5]}')
    assert status == 200 and body["result"] == call(b'{"steps": 5}')[1]["forecast"]


@pytest.mark.parametrize("bad", contract.BAD_INPUTS, ids=lambda bad: bad.label)
def test_bad_input_gets_4xx_with_an_error(loaded, bad):
    status, body = call(bad.body)
    assert 400 <= status < 500 and isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize("body", [b'{"steps": 3, "interval": 1.5}', b'{"steps": 3, "interval": true}',
                                  b'{"steps": 3, "extra": 1}', b'{"data": ["3"]}', b'{"data": 3}', b"",
                                  b'{"steps": NaN}', b'\xff\xfe{"steps": 3}'])
def test_more_bad_input(loaded, body):
    status, answer = call(body)
    assert status == 400 and "error" in answer


def test_get_is_refused_with_405_naming_post_in_allow(loaded):
    response = respond(b"", method="GET")
    assert response.status_code == 405 and "POST" in json.loads(response.get_data())["error"]
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("interval", [1e-9, 5e-324, 0.99999, 1 - 2 ** -53, 0.5])
def test_every_interval_the_contract_accepts_is_answered(loaded, interval):
    """No rounding on the way: 0.99999 is not 1.0 and 1e-9 is not 0, which the model would refuse."""
    status, body = call(json.dumps({"steps": 48, "interval": interval}).encode())
    assert status == 200 and body["interval"] == interval
    assert contract.interval_problems(body, 48) == []


def test_openapi_describes_the_contract():
    spec = contract.openapi()
    steps = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert steps["properties"]["steps"]["maximum"] == contract.MAX_STEPS == 365
