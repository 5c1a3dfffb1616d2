"""`wth-solution pipeline build` end to end on a real MLflow workspace, through the real CLI: its `main` in
this process, and the installed command for a bad input on a fresh workspace."""

import zipfile

import pandas as pd
import pytest
from console_scripts import in_process, installed

from solution import cli, workspace


def run_cli(*args, check=True, console_script=False):
    result = installed(*args, timeout=300) if console_script else in_process(cli.main, "wth-solution", *args)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def pipeline_runs(ws, name):
    exp = ws.client.get_experiment_by_name(ws.experiment)
    return ws.client.search_runs([exp.experiment_id], f"tags.`wth.pipeline` = '{name}'")


@pytest.fixture(scope="module")
def real_build(real_table, tmp_path_factory):
    root = tmp_path_factory.mktemp("real") / "ws"
    result = run_cli("pipeline", "build", "--workspace", root, "--source", real_table)
    return workspace.resolve(root), result


def test_build_on_the_real_table_registers_a_champion_beating_both_baselines(real_build):
    ws, result = real_build
    champion = workspace.champion(ws)
    assert champion is not None and str(champion.version) == "1"
    run = ws.client.get_run(champion.tags["run_id"])
    metrics = run.data.metrics
    assert metrics["mase"] <= 0.88, "the target on the real hack series"
    assert metrics["mase"] < metrics["baseline_snaive_mase"] and metrics["mase"] < metrics["legacy_arima_mase"]
    assert metrics["baseline_snaive_mase"] == pytest.approx(1.167, abs=0.001)  # the README's forecasting table
    assert metrics["legacy_arima_mase"] == pytest.approx(0.977, abs=0.002)
    for name in ("mae", "rmse", "mape", "smape", "baseline_naive_mase", "baseline_mean_mase"):
        assert name in metrics
    params = run.data.params
    assert params["train_start"] == "2013-07-31" and params["train_end"] == "2014-05-31"
    assert params["n_obs"] == "305" and len(params["data_sha256"]) == 64
    assert (params["eval_start"], params["eval_end"]) == ("2014-05-04", "2014-05-31")
    assert {"run_id", "data_sha256", "train_start", "train_end", "mase"} <= set(champion.tags)
    assert "forecast.png" in [a.path for a in ws.client.list_artifacts(run.info.run_id)]
    assert run.inputs.dataset_inputs, "the training data is recorded as a dataset input"
    assert "registered transactions-forecast version 1" in result.stdout


def test_build_is_one_pipeline_run_with_a_child_run_per_step(real_build):
    ws, _ = real_build
    (parent,) = pipeline_runs(ws, "build")
    assert parent.info.status == "FINISHED"
    exp = ws.client.get_experiment_by_name(ws.experiment)
    children = ws.client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.data.tags["wth.step"] for c in children) == sorted(
        ["acquire", "validate", "train", "evaluate", "register"])
    assert all(c.info.status == "FINISHED" for c in children)


def test_the_registered_model_loads_and_forecasts_after_the_training_end(real_build):
    import mlflow

    ws, _ = real_build
    ws.activate()  # tracking and registry URIs: `models:/` resolves through the registry
    model = mlflow.pyfunc.load_model(f"models:/{ws.model_name}@champion")
    out = model.predict(pd.DataFrame({"steps": [3], "interval": [0.9]}))
    assert [f"{d:%Y-%m-%d}" for d in out["date"]] == ["2014-06-01", "2014-06-02", "2014-06-03"]
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--source", "/no/such/file.csv"], "no such file"),
        (["--source", "{bad}"], "expected 9 tab-separated columns"),
        (["--source", "{baddate}"], "is not a valid date"),
        (["--start", "2016-01-01", "--end", "2016-12-31"], "no transactions in the window"),
        (["--train-end", "2013-08-15"], "the backtest needs at least"),
        (["--start", "yesterday"], "is not a date"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_leaves_no_run_or_version(
        real_build, real_table, tmp_path, capsys, args, reason):
    """In-process through `cli.main` (the same code as the console script, without a process start)."""
    ws, _ = real_build
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    baddate = tmp_path / "baddate.csv"
    baddate.write_text("1\t2\t3\t4\t2013-13-01 00:00:00\tS\t1\t1.0\t2013-13-01 00:00:00\n")
    args = [a.format(bad=bad, baddate=baddate) for a in args]
    if "--source" not in args:
        args += ["--source", str(real_table)]
    exp = ws.client.get_experiment_by_name(ws.experiment)
    runs_before = len(ws.client.search_runs([exp.experiment_id]))
    versions_before = len(ws.client.search_model_versions(f"name='{ws.model_name}'"))
    assert cli.main(["pipeline", "build", "--workspace", str(ws.root), *args]) == 2
    stderr = capsys.readouterr().err
    assert reason in stderr and len(stderr.strip().splitlines()) == 1
    assert len(ws.client.search_runs([exp.experiment_id])) == runs_before
    assert len(ws.client.search_model_versions(f"name='{ws.model_name}'")) == versions_before


def test_bad_input_from_the_console_script_on_a_fresh_workspace_creates_nothing(tmp_path):
    root = tmp_path / "fresh"
    result = run_cli("pipeline", "build", "--workspace", root, "--source", tmp_path / "missing.zip", check=False,
                     console_script=True)
    assert result.returncode == 2 and not root.exists()
    assert result.stderr.strip().splitlines() == [
        f"wth-solution pipeline build: {tmp_path / 'missing.zip'}: no such file"]


def test_another_window_in_archive_layout(real_table, tmp_path):
    """Microsoft's zip also holds TransactionHistoryArchive.csv (same layout, older years). We have no
    copy of it here, so this builds one from the real table moved back 52 weeks (weekdays kept) with
    archive-style ids, zips it as Microsoft does, and builds the 2012-06-01..2013-05-31 window."""
    rows = pd.read_csv(real_table, sep="\t", header=None, dtype=str)
    for column in (4, 8):
        rows[column] = (pd.to_datetime(rows[column]) - pd.Timedelta(weeks=52)).dt.strftime("%Y-%m-%d %H:%M:%S")
    rows[0] = (rows[0].astype(int) + 200_000).astype(str)  # ids must stay unique across both tables
    archive = tmp_path / "AdventureWorks-oltp-install-script.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("TransactionHistoryArchive.csv", rows.to_csv(sep="\t", header=False, index=False))
        z.write(real_table, "TransactionHistory.csv")
    root = tmp_path / "ws"
    run_cli("pipeline", "build", "--workspace", root, "--source", archive, "--start", "2012-06-01", "--end", "2013-05-31")
    ws = workspace.resolve(root)
    champion = workspace.champion(ws)
    metrics = ws.client.get_run(champion.tags["run_id"]).data.metrics
    assert champion.tags["train_start"] == "2012-08-01" and champion.tags["train_end"] == "2013-05-31"
    assert metrics["mase"] < metrics["baseline_snaive_mase"] and metrics["mase"] < metrics["legacy_arima_mase"]
