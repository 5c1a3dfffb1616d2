"""The workspace forms of the teams file: a sqlite file, and an MLflow tracking server over HTTP
(how a coach reaches a team laptop: the MLflow server `wth ui` runs, a real subprocess), plus an unreachable one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import psutil
import pytest
import requests
from grader_tools import free_port, grade_one

from wth import ui

WORKSPACE_CHECKS = ("C0.1", "C1.1", "C1.2", "C1.3", "C2.5", "C2.6")


def _grade(tmp_path, workspace, repo=None):
    return {r.id: r for r in grade_one(tmp_path, workspace=workspace, repo=repo and str(repo)).results}


def test_a_sqlite_file(tmp_path, trained_ws, lean_repo):
    results = _grade(tmp_path, str(trained_ws.root / "mlflow.db"), lean_repo)
    assert {c: results[c].status for c in WORKSPACE_CHECKS} == dict.fromkeys(WORKSPACE_CHECKS, "pass")


def test_a_file_that_is_not_an_mlflow_store(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"not a database at all" * 100)
    result = _grade(tmp_path, str(bogus))["C0.1"]
    assert result.status == "fail" and "not a readable sqlite database" in result.message


@pytest.fixture(scope="module")
def tracking_server(trained_ws, tmp_path_factory):
    copy = tmp_path_factory.mktemp("server") / "mlflow.db"
    shutil.copy(trained_ws.root / "mlflow.db", copy)
    port = free_port()
    process = subprocess.Popen(ui.command(copy.parent, port=port), env=ui.environment(), cwd=copy.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{uri}/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGTERM)
        pytest.fail("the MLflow server did not start within 90 s")
    yield uri
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_a_tracking_server_over_http(tmp_path, tracking_server, lean_repo):
    """Every workspace check passes but C1.2: a remote team's training data, named by a path its server
    reports, is not opened on the coach's machine (nor is it among the files the grader holds)."""
    results = _grade(tmp_path, {"tracking_uri": tracking_server}, lean_repo)
    expected = {**dict.fromkeys(WORKSPACE_CHECKS, "pass"), "C1.2": "error"}
    assert {c: results[c].status for c in WORKSPACE_CHECKS} == expected, {c: results[c].message for c in WORKSPACE_CHECKS}
    assert "is not a file of the team's workspace or repository" in results["C1.2"].message


def test_an_unreachable_tracking_server_is_not_gradable(tmp_path):
    started = time.monotonic()
    result = _grade(tmp_path, {"tracking_uri": f"http://127.0.0.1:{free_port()}"})["C0.1"]
    assert result.status == "error" and "cannot reach the MLflow workspace" in result.message
    assert time.monotonic() - started < 30


def _open_files() -> int:
    me = psutil.Process()
    return me.num_fds() if hasattr(me, "num_fds") else me.num_handles()


def test_grading_again_in_one_process_sees_the_change_and_holds_no_more_files(tmp_path, empty_ws, trained_ws):
    """As `wth-grader watch` does: each pass reads the workspace afresh (the snapshot is refreshed under
    MLflow's open connection to it), and passes leave nothing open behind them (one snapshot per team:
    MLflow keeps a store per database for the life of the process)."""
    team = tmp_path / "ws"
    shutil.copytree(empty_ws.root, team)
    assert _grade(tmp_path, str(team))["C1.1"].status == "fail"
    shutil.copy(trained_ws.root / "mlflow.db", team / "mlflow.db")  # the team ran its build pipeline
    assert _grade(tmp_path, str(team))["C1.1"].status == "pass"
    before = _open_files()
    for _ in range(6):
        assert _grade(tmp_path, str(team))["C1.1"].status == "pass"
    assert _open_files() - before < 3, "each pass left files open"
