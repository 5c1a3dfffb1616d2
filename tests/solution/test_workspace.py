"""The workspace contract on a real MLflow store: pipeline runs, failure marking, resolution."""

import subprocess
import sys

import mlflow
import pytest

from solution import workspace
from wth.errors import StepFailed


def test_a_failing_step_fails_its_pipeline_and_records_why(tmp_path):
    ws = workspace.resolve(tmp_path / "ws")
    with pytest.raises(StepFailed):
        with workspace.pipeline_run(ws, "build") as parent:
            with workspace.step("acquire"):
                pass
            with workspace.step("train"):
                raise StepFailed("no model beats the seasonal naive")
    exp = ws.client.get_experiment_by_name(ws.experiment)
    runs = {r.data.tags.get("wth.step", "pipeline"): r for r in ws.client.search_runs([exp.experiment_id])}
    assert runs["pipeline"].info.run_id == parent.info.run_id
    assert runs["pipeline"].info.status == "FAILED" and runs["train"].info.status == "FAILED"
    assert runs["acquire"].info.status == "FINISHED"
    assert runs["train"].data.tags["wth.failure"] == "StepFailed: no model beats the seasonal naive"
    assert runs["train"].data.tags["wth.pipeline_run_id"] == parent.info.run_id
    assert runs["pipeline"].data.tags["wth.pipeline"] == "build"
    assert mlflow.active_run() is None


def test_a_run_left_running_by_a_killed_process_is_failed_by_the_next_pipeline(tmp_path):
    ws = workspace.resolve(tmp_path / "ws")
    experiment_id = ws.activate()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = ws.client.create_run(experiment_id, tags={"wth.pid": str(dead.pid), "wth.pipeline": "retrain"})
    with workspace.pipeline_run(ws, "build"):
        pass
    run = ws.client.get_run(orphan.info.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["wth.failure"] == "process ended before the run finished"


def test_resolution_order_flag_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WTH_WORKSPACE", str(tmp_path / "from-env"))
    assert workspace.resolve(tmp_path / "flag").root == tmp_path / "flag"
    assert workspace.resolve().root == tmp_path / "from-env"
    monkeypatch.delenv("WTH_WORKSPACE")
    assert workspace.resolve().root == tmp_path / ".wth"
    assert workspace.resolve("http://mlflow.example:5000").tracking_uri == "http://mlflow.example:5000"
    assert not (tmp_path / ".wth").exists(), "resolving a workspace creates nothing"
