"""`wth-solution retrain` on a real MLflow workspace with a real endpoint serving the champion.

One workspace for the module: a champion trained on the bundled 2013-10-01..2013-12-31 (small, so
training is quick), version 1 served by the local endpoint. The failure tests run first and leave
everything as it was; the last tests retrain for real with January 2014 and check the decision.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from datafiles import bundled, cut

from solution import cli, endpoint, evaluate, forecast, retrain, workspace
from solution.evaluate import Backtest
from wth import data
from wth.config import CHAMPION
from wth.errors import UsageError

CLI = str(Path(sys.executable).with_name("wth-solution"))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrain") / "ws"
    source = bundled("TransactionHistory.csv.gz")
    assert cli.main(["pipeline", "build", "--workspace", str(root), "--source", str(source),
                     "--start", "2013-10-01", "--end", "2013-12-31"]) == 0
    ws = workspace.resolve(root)
    endpoint.deploy(ws, port=endpoint.free_port())
    yield ws
    endpoint.stop(ws)


@pytest.fixture(scope="module")
def first_quarter(tmp_path_factory):
    """Three months of new data: the champion trained on October to December is stale by March (after
    January alone it still forecasts as well as a retrained model, and the margin keeps it)."""
    return cut(bundled("new-data-2014.csv.gz"), tmp_path_factory.mktemp("new") / "first-quarter.csv",
               "2014-01-01", "2014-03-31")


def production(ws):
    """What a failed retrain must not touch: the alias, every version's tags, the served version."""
    versions = {v.version: dict(v.tags) for v in ws.client.search_model_versions(f"name='{ws.model_name}'")}
    served = endpoint.status(ws)
    return str(workspace.champion(ws).version), versions, served.serving and served.record.model_version


def runs(ws, **tags):
    """Runs with these tags (keyword `wth_pipeline` means tag `wth.pipeline`), newest first."""
    exp = ws.client.get_experiment_by_name(ws.experiment)
    where = " and ".join(f"tags.`{k.replace('wth_', 'wth.', 1)}` = '{v}'" for k, v in tags.items())
    return ws.client.search_runs([exp.experiment_id], where)


# --- pure parts ------------------------------------------------------------------------------------


def daily(start, values):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", name="date"), dtype=float)


def test_overlap_that_agrees_is_dropped_and_reported_gaps_are_interpolated():
    old = daily("2014-01-01", np.arange(10.0))
    new = daily("2014-01-08", [7.0, 8.0, 9.0, 100.0, 101.0])  # 3 days repeat the old ones exactly
    combined = retrain.combine(old, new)
    assert (combined.overlap_days, combined.new_days, combined.gap_days) == (3, 2, 0)
    assert combined.series["2014-01-11":].tolist() == [100.0, 101.0] and len(combined.series) == 12
    gapped = retrain.combine(old, daily("2014-01-14", [13.0, 14.0]))  # 11..13 missing: 3 days interpolated
    assert gapped.gap_days == 3 and gapped.series["2014-01-11":"2014-01-13"].tolist() == [10.0, 11.0, 12.0]


@pytest.mark.parametrize("new, reason", [
    (daily("2014-01-09", [8.5, 9.0, 10.0]), "differ (first 2014-01-09: 8.50 vs 8.00)"),
    (daily("2014-01-02", [1.0, 2.0]), "adds no day after the champion's training end 2014-01-10"),
    (daily("2014-01-20", [1.0, 2.0]), "9 days after the champion's training end"),
])
def test_conflicting_overlap_no_new_days_and_long_gaps_are_refused(new, reason):
    with pytest.raises(UsageError) as err:
        retrain.combine(daily("2014-01-01", np.arange(10.0)), new)
    assert reason in str(err.value)


def test_the_frozen_champion_answers_with_its_registered_path_at_the_folds_dates():
    """Fold origins 28, 21, 14 and 7 days before the end: the registered path is read at each fold's dates."""
    series = daily("2014-01-01", np.arange(70.0))
    model = forecast.Forecast("x", {}, series.index[0], pd.Timestamp("2014-01-31"), np.arange(365.0) + 1000,
                              np.zeros((1, 1)))
    scored = evaluate.backtest(retrain.frozen(model), series)
    offsets = (scored.forecasts.index - model.train_end).days  # day k after train_end is path[k - 1]
    assert (scored.forecasts.to_numpy() == 1000 + offsets - 1).all()
    assert scored.window == ("2014-02-12", "2014-03-11")  # the last 28 of 70 days


def fake_backtest(mase):
    folds = [dict.fromkeys(evaluate.METRICS, mase)]
    return Backtest(folds=folds, origins=[], forecasts=daily("2014-01-01", [0.0]))


@pytest.mark.parametrize("champion, challenger, margin, promoted", [
    (1.00, 0.94, 0.05, True),
    (1.00, 0.96, 0.05, False),  # better, but not by the margin
    (1.00, 1.00, 0.0, False),  # a tie never promotes
    (1.00, 0.99, 0.0, True),
])
def test_promotion_needs_the_margin(champion, challenger, margin, promoted):
    decision = retrain.Decision(fake_backtest(champion), fake_backtest(challenger), margin)
    assert decision.promoted is promoted
    assert ("beats" if promoted else "does not beat") in decision.reason


# --- failures leave production alone ---------------------------------------------------------------


def test_bad_new_data_exits_2_with_one_line_and_changes_nothing(ws, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("100\t1\t1\t1\t2014-01-02 00:00:00\tS\tlots\t1.5\t2014-01-02 00:00:00\n")
    before, runs_before = production(ws), len(runs(ws))
    capsys.readouterr()
    assert cli.main(["retrain", "--workspace", str(ws.root), "--new-data", str(bad)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"wth-solution retrain: {bad}: line 1: Quantity 'lots' is not a valid number"]
    assert production(ws) == before and len(runs(ws)) == runs_before


@pytest.mark.parametrize("command", [["retrain", "--new-data"], ["drift", "--batch"]])
def test_no_workspace_is_refused_without_creating_one(tmp_path, first_quarter, capsys, command):
    assert cli.main([command[0], "--workspace", str(tmp_path / "none"), command[1], str(first_quarter)]) == 2
    assert "run `wth-solution pipeline build` first" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_too_few_new_days_for_a_fair_comparison_is_refused(ws, first_quarter, tmp_path, capsys):
    short = cut(first_quarter, tmp_path / "short.csv", "2014-01-01", "2014-01-20")
    before = production(ws)
    assert cli.main(["retrain", "--workspace", str(ws.root), "--new-data", str(short)]) == 2
    assert "a fair comparison needs at least 28" in capsys.readouterr().err
    assert production(ws) == before


def test_a_training_error_fails_the_run_and_changes_nothing(ws, first_quarter, monkeypatch, capsys):
    def broken(series, progress=None):
        raise np.linalg.LinAlgError("Schur decomposition solver error")

    monkeypatch.setattr(forecast, "select", broken)  # the fault: the model library fails mid-training
    before = production(ws)
    assert cli.main(["retrain", "--workspace", str(ws.root), "--new-data", str(first_quarter)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training the challenger failed (LinAlgError" in err[0]
    assert production(ws) == before
    parent = runs(ws, wth_pipeline="retrain")[0]
    assert parent.info.status == "FAILED" and "decision" not in parent.data.tags
    step = runs(ws, wth_step="train", wth_pipeline_run_id=parent.info.run_id)[0]
    assert step.info.status == "FAILED"


def test_a_process_killed_during_training_changes_nothing_and_its_run_ends_failed(ws, first_quarter):
    before = production(ws)
    exp = ws.client.get_experiment_by_name(ws.experiment)
    process = subprocess.Popen([CLI, "retrain", "--workspace", str(ws.root), "--new-data", str(first_quarter)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not ws.client.search_runs([exp.experiment_id], f"tags.`wth.step` = 'train' and "
                                        f"tags.`wth.pid` = '{process.pid}' and attributes.status = 'RUNNING'"):
            assert process.poll() is None, "retrain ended before its training started"
            assert time.monotonic() < deadline, "training did not start within 4 minutes"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert production(ws) == before

    def killed():
        (parent,) = runs(ws, wth_pipeline="retrain", wth_pid=process.pid)
        steps = {r.data.tags["wth.step"]: r.info.status for r in runs(ws, wth_pipeline_run_id=parent.info.run_id)}
        return parent.info.status, steps

    assert killed() == ("RUNNING", {"acquire": "FINISHED", "train": "RUNNING"})
    workspace.fail_orphaned_runs(ws, exp.experiment_id)  # what the next pipeline run does first
    assert killed() == ("FAILED", {"acquire": "FINISHED", "train": "FAILED"})


# --- the real retrain --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retrained(ws, first_quarter):
    before = workspace.champion(ws)
    decision = retrain.run(ws, new_data=str(first_quarter), progress=lambda message: None)
    parent = runs(ws, wth_pipeline="retrain", decision="promoted" if decision.promoted else "rejected")[0]
    return before, decision, parent


def test_the_decision_is_recorded_with_both_metrics_on_the_same_window(ws, retrained):
    before, decision, parent = retrained
    tags, metrics = parent.data.tags, parent.data.metrics
    assert parent.info.status == "FINISHED"
    assert tags["champion_version"] == str(before.version) == "1" and tags["challenger_version"] == "2"
    assert (tags["eval_start"], tags["eval_end"]) == ("2014-03-04", "2014-03-31")
    assert metrics["margin"] == retrain.DEFAULT_MARGIN and metrics["promoted"] == float(decision.promoted)
    assert tags["decision"] in ("promoted", "rejected") and tags["reason"] == decision.reason
    # the challenger's figure is the backtest its own training run logged, over the same window
    challenger = ws.client.get_model_version(ws.model_name, "2")
    train_run = ws.client.get_run(challenger.tags["run_id"])
    assert metrics["challenger_mase"] == pytest.approx(train_run.data.metrics["mase"])
    assert (train_run.data.params["eval_start"], train_run.data.params["eval_end"]) == ("2014-03-04", "2014-03-31")


def test_the_champion_figure_recomputed_by_hand_from_the_registered_model(ws, retrained, first_quarter):
    """Independently of `backtest`: version 1's served forecasts for the four weeks, MASE-scaled per
    fold by the seasonal naive on the days before each fold, averaged."""
    _, _, parent = retrained
    path = retrain.registered_forecast(ws, ws.client.get_model_version(ws.model_name, "1"))
    acquired = json.loads((ws.root / "data" / "latest.json").read_text())
    series = pd.read_csv(acquired["series_file"], index_col="date", parse_dates=["date"])["PaidAmount"]
    assert series.index[-1] == pd.Timestamp("2014-03-31") and series.index[0] == pd.Timestamp("2013-10-01")
    served = path.predict(90)["forecast"]  # Jan 1..Mar 31, as the endpoint serves them
    folds = []
    for first in pd.date_range("2014-03-04", periods=4, freq="7D"):
        days = pd.date_range(first, periods=7, freq="D")
        history = series[: first - pd.Timedelta(days=1)].to_numpy()
        scale = np.mean(np.abs(history[7:] - history[:-7]))
        folds.append(np.mean(np.abs(series[days].to_numpy() - served[days].to_numpy())) / scale)
    assert parent.data.metrics["champion_mase"] == pytest.approx(np.mean(folds), rel=1e-9)


def test_the_challenger_is_registered_with_lineage_and_the_alias_follows_the_decision(ws, retrained):
    before, decision, _ = retrained
    challenger = ws.client.get_model_version(ws.model_name, "2")
    assert challenger.tags["train_start"] == "2013-10-01" and challenger.tags["train_end"] == "2014-03-31"
    assert challenger.tags["n_obs"] == "182" and ws.client.get_run(challenger.tags["run_id"]).info.status == "FINISHED"
    recorded = json.loads((ws.root / "data" / "latest.json").read_text())["series_file"]
    assert challenger.tags["data_sha256"] == data.sha256_of(recorded)
    lineage = lambda tags: {k: v for k, v in tags.items() if k != CHAMPION}  # noqa: E731 - the mark moves, lineage stays
    assert lineage(ws.client.get_model_version(ws.model_name, "1").tags) == lineage(before.tags)
    assert str(workspace.champion(ws).version) == ("2" if decision.promoted else "1")


def test_the_endpoint_serves_the_champion_after_retraining(ws, retrained):
    _, decision, parent = retrained
    assert decision.promoted, f"the bundled first-quarter data should promote, so the rollout is exercised: {decision.reason}"
    steps = runs(ws, wth_pipeline_run_id=parent.info.run_id, wth_step="promote")
    assert steps[0].data.tags["served_version"] == "2"
    record = endpoint.status(ws).record
    answer = requests.post(record.scoring_uri, json={"steps": 3}, timeout=30).json()
    champion = workspace.champion(ws)
    assert answer["model"]["version"] == str(champion.version)
    assert answer["dates"][0] == (pd.Timestamp(champion.tags["train_end"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")

