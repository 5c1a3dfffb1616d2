"""Work that is not done loses the points, work that is done keeps them: each check that shallow
work used to pass, graded on a shallow fixture and on an honest one (real workspaces and repos)."""

from __future__ import annotations

import pytest
from grader_tools import SHALLOW_TEST, build_repo, grade_one

from grader import teams
from grader.checks import FAIL, PASS, SKIPPED


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("shallow-repos")
    return {kind: build_repo(root / kind, kind) for kind in ("uncommitted", "echo-drift")} | {
        "shallow-tests": build_repo(root / "shallow-tests", "custom", {"test_data.py": SHALLOW_TEST})}


def _grade(tmp_path, ws, repo=None, challenge=None, name="t"):
    return grade_one(tmp_path, challenge, name=name, workspace=str(ws.root), repo=str(repo) if repo else None)


def test_c0_2_wants_the_starter_committed_not_just_copied(tmp_path, trained_ws, repos, good_repo):
    shallow = _grade(tmp_path, trained_ws, repos["uncommitted"], challenge=0).result("C0.2")
    assert shallow.status == FAIL and shallow.points == 0
    assert "not in the repository's HEAD commit" in shallow.message and "7 of them are on disk but not committed" in shallow.message
    honest = _grade(tmp_path, trained_ws, good_repo, challenge=0).result("C0.2")
    assert honest.status == PASS and honest.evidence["committed"] == sorted(honest.evidence["on_disk"])


def test_c1_2_recomputes_the_seasonal_naive_baseline(tmp_path, trained_ws, scripted_ws):
    shallow = _grade(tmp_path, scripted_ws, challenge=1).result("C1.2")
    assert shallow.status == FAIL
    again = shallow.evidence["recomputed"]["mase"]
    assert "baseline_snaive_mase = 1.0000, but the hack's backtest" in shallow.message and f"{again:.4f}" in shallow.message
    honest = _grade(tmp_path, trained_ws, challenge=1).result("C1.2")
    assert honest.status == PASS, honest.message
    assert honest.evidence["recomputed"]["window"] == "2013-07-31..2013-12-31"
    assert abs(honest.evidence["recomputed"]["mase"] - honest.evidence["baselines"]["baseline_snaive_mase"]) < 1e-3


def test_c1_2_is_not_gradable_when_the_training_data_is_not_here(tmp_path):
    """A run whose dataset input names a file the grading machine cannot read (another laptop's path)."""
    import mlflow
    from grader_tools import _series

    from solution import forecast, model_logging, workspace

    ws = workspace.resolve(tmp_path / "ws")
    ws.activate()
    series = _series("2013-12-31")
    with mlflow.start_run():
        mlflow.log_params({"train_start": "2013-07-31", "train_end": "2013-12-31"})
        mlflow.log_metrics({"mase": 0.9, "baseline_snaive_mase": 1.0})
        mlflow.log_input(mlflow.data.from_pandas(series.reset_index(), source="file:///elsewhere/laptop/series.csv"),
                         context="training")
        model_logging.log(forecast.fit("snaive", series))
    result = _grade(tmp_path, ws, challenge=1).result("C1.2")
    assert result.status == "error", result.message
    assert "file:///elsewhere/laptop/series.csv\"} is not a file of the team's workspace or repository" in result.message
    # trained on the bundled data: the grader holds that file and finds it by the run's data_sha256
    from grader.backtest import snaive_mase
    from wth.data import bundled_file, sha256_of

    with mlflow.start_run():
        mlflow.log_params({"train_start": "2013-07-31", "train_end": "2013-12-31", "data_sha256": sha256_of(bundled_file())})
        mlflow.log_metrics({"mase": 0.9, "baseline_snaive_mase": snaive_mase(series)})
        mlflow.log_input(mlflow.data.from_pandas(series.reset_index(), source="file:///elsewhere/laptop/series.csv"),
                         context="training")
        model_logging.log(forecast.fit("snaive", series))
    found = _grade(tmp_path, ws, challenge=1).result("C1.2")
    assert found.status == PASS and found.evidence["recomputed"]["found_by"] == "its data_sha256 param", found.message


def test_c2_3_gives_partial_credit_naming_what_slipped_through(tmp_path, trained_ws, repos):
    result = _grade(tmp_path, trained_ws, repos["shallow-tests"], challenge=2).result("C2.3")
    assert result.status == FAIL and 0 < result.points < result.max_points
    caught = result.evidence["caught"]
    assert set(caught) == {"columns", "negative-quantity"} and result.points == 2.9
    for slipped in ("a TransactionDate '2014-02-30 00:00:00' that is not a date", "a duplicated TransactionID",
                    "an ActualCost 'n/a' that is not a number", "a Quantity '2.5' that is not an integer",
                    "an empty file"):
        assert slipped in result.message


def test_c2_6_wants_the_version_from_a_build_pipeline(tmp_path, trained_ws, scripted_ws):
    shallow = _grade(tmp_path, scripted_ws, challenge=2).result("C2.6")
    assert shallow.status == FAIL and "not part of a build pipeline run" in shallow.message
    honest = _grade(tmp_path, trained_ws, challenge=2).result("C2.6")
    assert honest.status == PASS and honest.evidence["build_pipeline_run"][:8] in honest.message


def test_c4_reads_only_retrain_pipeline_runs_and_names_the_run(tmp_path, full_ws, scripted_ws, lean_repo):
    shallow = _grade(tmp_path, scripted_ws, challenge=4)
    c42 = shallow.result("C4.2")
    assert c42.status == FAIL and "not part of a retrain pipeline run" in c42.message
    assert shallow.result("C4.3").status == SKIPPED
    # the honest team's comparison is on its retrain run (with the decision) and on the newer evaluate step
    honest = _grade(tmp_path, full_ws, lean_repo, challenge=4)
    c43 = honest.result("C4.3")
    assert c43.status == PASS, c43.message
    run_id = c43.evidence["run_id"]
    assert f"retrain pipeline run {run_id[:8]}" in c43.message and f"retrain pipeline run {run_id[:8]}" in honest.result("C4.2").message


def test_c5_4_wants_a_real_drift_step_and_drift_runs(tmp_path, full_ws, trained_ws, repos, good_repo):
    echo = _grade(tmp_path, full_ws, repos["echo-drift"], challenge=5).result("C5.4")
    assert echo.status == FAIL and "none of its steps runs a drift check that exists" in echo.message
    no_runs = _grade(tmp_path, trained_ws, good_repo, challenge=5).result("C5.4")
    assert no_runs.status == FAIL and "no succeeded CI run of it recorded a drift pipeline run" in no_runs.message
    honest = _grade(tmp_path, full_ws, good_repo, challenge=5).result("C5.4")
    assert honest.status == PASS and honest.evidence["drift_step"] == "monitoring/drift.py"


def test_c3_6_names_the_ci_run_the_version_and_the_approval(tmp_path, full_ws, lean_repo):
    result = _grade(tmp_path, full_ws, lean_repo, challenge=3).result("C3.6")
    assert result.status == PASS, result.message
    assert "released version 2, the champion" in result.message and "approved production at" in result.message
    unbacked = _grade(tmp_path, full_ws, challenge=3).result("C3.6")  # no repository backs its CI runs
    assert unbacked.status == FAIL and "made by a succeeded CI run" in unbacked.message


def test_the_graders_backtest_is_the_reference_protocol():
    """The grader cannot import the solution; its recomputation must still be the same protocol."""
    from grader_tools import _series

    from grader.backtest import snaive_mase
    from solution import forecast

    for end in ("2013-10-31", "2014-05-31"):
        series = _series(end)
        reference = forecast.evaluate("snaive", series).metrics["mase"]
        assert abs(snaive_mase(series) - reference) < 1e-12


def test_c1_2_reads_a_training_file_once_per_pass_until_it_changes(tmp_path):
    """Teams on the same data share one read of it; a file written since is read again."""
    from grader.context import Session
    from wth.simulate import to_text, window_rows

    data = tmp_path / "TransactionHistory.csv"
    data.write_text(to_text(window_rows()))
    session = Session(teams.Config.model_construct(event="e", teams=[], grader_dir=tmp_path / "g"))
    first = session.recorded_series(data, "2013-09-01", "2013-12-31")
    assert session.recorded_series(data, "2013-09-01", "2013-12-31") is first
    assert len(session.recorded_series(data, "2013-10-01", "2013-12-31")) < len(first)
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    assert session.recorded_series(data, "2013-09-01", "2013-12-31") is not first


def test_c5_4_finds_a_drift_script_by_its_whole_name(tmp_path):
    from grader.checks.c5 import drift_step

    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "mydrift.py").write_text("print('drift')\n")
    assert drift_step(tmp_path, ["python", "tools/mydrift.py", "--batch", "b.csv"]) == "tools/mydrift.py"
    assert drift_step(tmp_path, ["python", "mydrift.py"]) == "tools/mydrift.py"
    assert drift_step(tmp_path, ["python", "drift.py"]) is None
