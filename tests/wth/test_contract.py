"""The endpoint contract, written once (wth/contract.py): its parser, its judges, and the table that
Student/Challenge-03.md shows."""

from __future__ import annotations

import pytest
from datafiles import REPO_ROOT

from wth import contract

GOOD = {"forecast": [1.0, 2.0], "dates": ["2014-01-01", "2014-01-02"], "model": {"name": "m", "version": "3"}}


def test_challenge_03_shows_the_contract_table_of_the_module():
    doc = (REPO_ROOT / "Student" / "Challenge-03.md").read_text()
    shown = "\n".join(line.strip() for line in doc.splitlines() if line.strip().startswith("|"))
    assert contract.table_markdown() in shown
    assert "interval" in contract.table_markdown() and str(contract.MAX_STEPS) in contract.table_markdown()


@pytest.mark.parametrize("bad", contract.BAD_INPUTS, ids=lambda bad: bad.label)
def test_every_bad_input_is_refused_by_the_contracts_own_parser(bad):
    with pytest.raises(contract.BadRequest) as refused:
        contract.parse_request(contract.parse_body(bad.body))
    assert 400 <= refused.value.status < 500 and str(refused.value)


def test_the_models_own_copy_of_the_step_limit_is_the_contracts():
    """solution/model_code.py travels with the model and imports nothing of ours: its limit is a copy."""
    from solution import model_code

    assert model_code.MAX_STEPS == contract.MAX_STEPS


def test_requests_the_contract_accepts():
    assert contract.parse_request({"steps": 30}) == contract.Request(30)
    assert contract.parse_request({"steps": 7, "interval": 0.8}) == contract.Request(7, 0.8)
    assert contract.parse_request({"data": [5]}) == contract.Request(5, legacy=True)
    assert contract.parse_request(contract.parse_body(b'{"steps": 365}')).steps == 365
    for refused in ({"steps": 3, "interval": 1.5}, {"steps": 3, "interval": True}, {"steps": 3, "x": 1},
                    {"data": ["3"]}, {"data": 3}):
        with pytest.raises(contract.BadRequest):
            contract.parse_request(refused)


def test_answers_are_judged_once_for_everyone():
    assert contract.forecast_problems(GOOD, 2) == []
    assert contract.forecast_problems({"error": "model not loaded"}, 2)[0].startswith("200 with an error payload")
    assert "'forecast'" in contract.forecast_problems({**GOOD, "forecast": [1.0, float("nan")]}, 2)[0]
    assert "consecutive" in contract.forecast_problems({**GOOD, "dates": ["2014-01-01", "2014-01-03"]}, 2)[0]
    assert "'model'" in contract.forecast_problems({**GOOD, "model": {"name": "m", "version": 3}}, 2)[0]
    from datetime import date
    assert "not the day after" in contract.forecast_problems(GOOD, 2, first_day=date(2014, 1, 2))[0]
    assert not contract.offers_interval(GOOD)
    bands = {**GOOD, "lower": [0.5, 1.5], "upper": [1.5, 2.5]}
    assert contract.offers_interval(bands) and contract.interval_problems(bands, 2) == []
    assert contract.interval_problems({**bands, "upper": [0.9, 2.5]}, 2)  # upper below the forecast
    assert contract.refusal_problem(400, {"error": "no"}) is None
    assert contract.refusal_problem(200, {"error": "no"}) and contract.refusal_problem(500, {"error": "no"})
    assert contract.refusal_problem(422, {"message": "no"})


def test_the_openapi_document_states_the_limits():
    post = contract.openapi()["paths"]["/score"]["post"]
    steps_form = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert steps_form["properties"]["steps"]["maximum"] == contract.MAX_STEPS
    assert {"400", "401", "413"} <= set(post["responses"])


def test_the_openapi_document_is_valid_openapi_3_0():
    from openapi_spec_validator import validate

    spec = contract.openapi()
    assert spec["openapi"].startswith("3.0.")
    validate(spec)


INTERVALS = [0, 1, -0.0, 5e-324, 1e-9, 0.5, 0.99999, 1 - 2 ** -53, 1.0000001, -1e-9, 1e308, True, False, None,
             "0.5", [0.5]]


@pytest.mark.parametrize("interval", INTERVALS, ids=repr)
def test_the_document_and_the_parser_take_the_same_intervals(interval):
    """What the published schema accepts, the parser accepts as it is (no rounding), and nothing else."""
    from openapi_schema_validator import OAS30Validator

    post = contract.openapi()["paths"]["/score"]["post"]
    request = {"steps": 48, "interval": interval}
    published = OAS30Validator(post["requestBody"]["content"]["application/json"]["schema"]).is_valid(request)
    try:
        parsed = contract.parse_request(request)
    except contract.BadRequest:
        parsed = None
    assert published == (parsed is not None)
    assert parsed is None or parsed.interval == interval  # JSON null: no interval, as when left out


def test_the_contracts_document_shows_the_same_table():
    doc = (REPO_ROOT / "docs" / "contracts.md").read_text()
    assert contract.table_markdown() in doc
    assert all(bad.label in doc for bad in contract.BAD_INPUTS)
