"""`wth-solution drift` on the bundled batches, with a real MLflow workspace.

One workspace for the module: a champion built on the bundled 2014-01-01..2014-05-31 (151 days, so the
build is quick and the batches start the day after its training end).

Margin (verdicts must not hinge on a threshold tuned to the last decimal): the drifted batch
must score at least 1.5 and the clean batch at most 0.67, where 1 is the threshold; i.e. both verdicts
hold with every threshold 1.5 times stricter or looser.
"""

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datafiles import bundled, cut

from solution import cli, drift, retrain, workspace
from wth import data

DRIFT_AT_LEAST, CLEAN_AT_MOST = 1.5, 1 / 1.5


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift") / "ws"
    assert cli.main(["pipeline", "build", "--workspace", str(root), "--source",
                     str(bundled("TransactionHistory.csv.gz")), "--start", "2014-01-01"]) == 0
    return workspace.resolve(root)


def drift_runs(ws):
    exp = ws.client.get_experiment_by_name(ws.experiment)
    return ws.client.search_runs([exp.experiment_id], "tags.`wth.pipeline` = 'drift'")


@pytest.fixture(scope="module")
def verdicts(ws):
    """Exit status and the drift run of each bundled batch."""
    out = {}
    for name in ("batch-drifted.csv.gz", "batch-clean.csv.gz"):
        batch = bundled(name)
        status = cli.main(["drift", "--workspace", str(ws.root), "--batch", str(batch)])
        (run,) = [r for r in drift_runs(ws) if r.data.params["batch"] == str(batch)]
        out[name] = status, run
    return out


def test_the_drifted_batch_says_drift_by_a_clear_margin(verdicts):
    status, run = verdicts["batch-drifted.csv.gz"]
    assert status == drift.DRIFT == 3
    assert run.data.metrics["drift_detected"] == 1
    assert run.data.metrics["drift_score"] >= DRIFT_AT_LEAST, str(run.data.metrics)


def test_the_clean_batch_says_no_drift_by_a_clear_margin(verdicts):
    status, run = verdicts["batch-clean.csv.gz"]
    assert status == drift.NO_DRIFT == 0
    assert run.data.metrics["drift_detected"] == 0
    assert run.data.metrics["drift_score"] <= CLEAN_AT_MOST, str(run.data.metrics)


def test_each_drift_run_records_the_contract(ws, verdicts):
    for name, (_, run) in verdicts.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["batch_sha256"] == data.sha256_of(bundled(name))
        assert run.data.tags["champion_version"] == "1"
        metrics = run.data.metrics
        for key in ("ks_statistic", "ks_pvalue", "psi", "weekday_distance", "performance_decay", "batch_mase"):
            assert np.isfinite(metrics[key]), key
        scores = [metrics[f"{test}_score"] for test in ("ks", "psi", "weekday", "decay")]
        assert metrics["drift_score"] == max(scores)
        steps = ws.client.search_runs([run.info.experiment_id], f"tags.`wth.pipeline_run_id` = '{run.info.run_id}'")
        assert sorted(s.data.tags["wth.step"] for s in steps) == ["detect", "report"]


def test_the_report_is_one_self_contained_html_file_with_the_verdict_and_plots(ws, verdicts, tmp_path):
    _, run = verdicts["batch-drifted.csv.gz"]
    page = Path(ws.client.download_artifacts(run.info.run_id, "drift_report.html", str(tmp_path))).read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3 and all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "DRIFT (score" in page and "performance decay" in page and "Kolmogorov" in page


def test_thresholds_are_configurable_and_scores_are_relative_to_them(ws):
    """Pure `assess` on the champion's data: halving a threshold doubles its score."""
    version = workspace.model_version(ws)
    champion = retrain.registered_forecast(ws, version)
    reference = retrain.training_data(ws, version)
    batch, _ = retrain.read_series(str(bundled("batch-drifted.csv.gz")))
    mase = float(version.tags["mase"])
    base = drift.assess(reference, batch, champion, mase)
    d = drift.Thresholds()
    halved = drift.assess(reference, batch, champion, mase,
                          drift.Thresholds(ks_alpha=d.ks_alpha**0.5, psi=d.psi / 2, weekday=d.weekday / 2,
                                           decay=d.decay / 2))
    for a, b in zip(base.tests, halved.tests):
        assert b.score == pytest.approx(2 * a.score), a.name
    lenient = drift.assess(reference, batch, champion, mase, drift.Thresholds(ks_alpha=1e-300, psi=1e3,
                                                                              weekday=1e3, decay=1e3))
    assert not lenient.drift_detected


def test_psi_and_weekday_profile_by_construction():
    rng = np.random.default_rng(0)
    same = rng.normal(size=5000)
    assert drift.psi(same, rng.normal(size=5000)) < 0.01
    assert drift.psi(same, rng.normal(loc=2, size=5000)) > 1
    days = pd.date_range("2014-01-06", periods=28, freq="D")  # a Monday
    weekly = pd.Series(np.tile([2, 2, 2, 2, 2, 0.5, 0.5], 4), index=days)
    profile = drift.weekday_profile(weekly)
    assert list(profile.index) == list(drift.WEEKDAYS)
    assert profile["Mon"] == pytest.approx(2 / (11 / 7)) and profile["Sun"] == pytest.approx(0.5 / (11 / 7))


def test_bad_batches_exit_2_with_one_line_and_record_nothing(ws, tmp_path, capsys):
    before = len(drift_runs(ws))
    bad = tmp_path / "bad.csv"
    bad.write_text("1\t2\t3\t4\t2014-06-01 00:00:00\tX\t1\t1.0\t2014-06-01 00:00:00\n")
    seen = cut(bundled("new-data-2014.csv.gz"), tmp_path / "may.csv", "2014-05-01", "2014-05-31")
    for batch, reason in ((bad, "TransactionType 'X' is not a valid type W/S/P"),
                          (seen, "not after the champion's training end 2014-05-31"),
                          (tmp_path / "missing.csv", "no such file")):
        capsys.readouterr()
        assert cli.main(["drift", "--workspace", str(ws.root), "--batch", str(batch)]) == 2
        said = capsys.readouterr().err
        assert len(said.strip().splitlines()) == 1 and reason in said, said
    assert len(drift_runs(ws)) == before


def test_the_help_states_the_thresholds_the_code_uses(capsys):
    with pytest.raises(SystemExit):
        cli.main(["drift", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = drift.Thresholds()
    for option, value in (("KS test flags drift when p < this", defaults.ks_alpha), ("PSI that", defaults.psi),
                          ("weekday-profile distance", defaults.weekday),
                          ("batch MASE / backtest MASE", defaults.decay)):
        assert f"{option}" in text and f"(default {value})" in text.split(option, 1)[1][:80], option
    assert "exit status: 0 no drift, 3 drift detected, 2 bad input, 1 a failed step" in text


def test_retrain_on_drift_chains_a_recorded_retrain_with_the_batch_as_new_data(ws, verdicts):
    """Last in the module: it may change the champion the tests above rely on."""
    batch = bundled("batch-drifted.csv.gz")
    assert cli.main(["drift", "--workspace", str(ws.root), "--batch", str(batch), "--retrain-on-drift"]) == drift.DRIFT
    exp = ws.client.get_experiment_by_name(ws.experiment)
    (run,) = ws.client.search_runs([exp.experiment_id], "tags.`wth.pipeline` = 'retrain'")
    assert run.info.status == "FINISHED" and run.data.tags["new_data_sha256"] == data.sha256_of(batch)
    assert (run.data.tags["eval_start"], run.data.tags["eval_end"]) == ("2014-06-01", "2014-06-28")
    champion = workspace.champion(ws)
    assert str(champion.version) == ("2" if run.data.tags["decision"] == "promoted" else "1")
