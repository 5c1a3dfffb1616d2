"""C3.4's ground truth: the coach's seeded continuation (secret), the public default (labelled), a
withheld-days file; the grader's own MASE, which a seasonal-naive endpoint cannot pass."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from endpoints import ContractEndpoint
from grader_tools import champion_forecast, write_teams

from grader import holdout, runner, teams
from grader.not_gradable import NotGradable
from grader.teams import Holdout
from solution import forecast

SEED = 913_577


@pytest.fixture(scope="module")
def champion(full_ws):
    return champion_forecast(full_ws)


def _grade_c34(tmp_path, ws, uri, **top):
    path = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(ws.root), "endpoint": uri, "repo": None}], **top)
    return runner.grade(teams.load(path), challenge=3)[0].result("C3.4")


def test_seeded_holdout_is_secret_and_differs_from_the_public_batch(tmp_path, monkeypatch, full_ws, champion):
    monkeypatch.setenv("WTH_HOLDOUT_SEED", str(SEED))
    seeded = holdout.truth(Holdout(seed_env="WTH_HOLDOUT_SEED"))
    public = holdout.truth(Holdout.public())
    days = pd.date_range("2014-06-01", "2014-06-28")
    assert not np.allclose(seeded.series[days], public.series[days])
    assert seeded.series[: "2014-05-31"].equals(public.series[: "2014-05-31"])  # same history, different future
    endpoint = ContractEndpoint("good", *champion)
    try:
        result = _grade_c34(tmp_path, full_ws, endpoint.uri)  # no holdout in the file: $WTH_HOLDOUT_SEED
    finally:
        endpoint.close()
    assert "secret seed" in result.evidence["holdout"] and "PUBLIC" not in result.message
    assert str(SEED) not in result.message + json.dumps(result.evidence)
    assert result.evidence["days"] == 28 and result.status in ("pass", "fail")


def test_a_seasonal_naive_endpoint_does_not_beat_the_seasonal_naive(tmp_path, full_ws):
    series = holdout.truth(Holdout.public()).series[: "2014-05-31"]
    endpoint = ContractEndpoint("good", forecast.fit("snaive", series), "2")
    try:
        result = _grade_c34(tmp_path, full_ws, endpoint.uri)
    finally:
        endpoint.close()
    assert result.status == "fail" and result.evidence["relative_mase"] == pytest.approx(1.0)


def test_withheld_days_file(tmp_path, full_ws, champion):
    """The real-data path: a TransactionHistory file whose last days the students never got."""
    from wth import simulate

    rows = pd.concat([simulate.window_rows(), simulate.batch_rows(drifted=False)], ignore_index=True)
    file = tmp_path / "TransactionHistory-full.csv"
    file.write_text(simulate.to_text(rows))
    endpoint = ContractEndpoint("good", *champion)
    try:
        result = _grade_c34(tmp_path, full_ws, endpoint.uri, holdout={"file": str(file), "days": 21})
    finally:
        endpoint.close()
    assert "withheld days of TransactionHistory-full.csv" in result.evidence["holdout"]
    assert result.evidence["days"] == 21 and result.evidence["last_day"] == "2014-06-21"


def test_unset_seed_is_not_gradable(monkeypatch):
    monkeypatch.delenv("NO_SUCH_SEED", raising=False)
    with pytest.raises(NotGradable, match="export NO_SUCH_SEED"):
        holdout.truth(Holdout(seed_env="NO_SUCH_SEED"))


def test_model_trained_into_the_holdout_is_not_gradable():
    truth = holdout.truth(Holdout.public())
    late = pd.Series(1.0, index=pd.date_range("2014-06-26", periods=10))
    with pytest.raises(NotGradable, match="fewer than 7 holdout days"):
        holdout.mase_against_snaive(truth, pd.Timestamp("2014-06-25"), late)
