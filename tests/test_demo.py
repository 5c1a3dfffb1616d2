"""`wth-solution demo` end to end through the console script, then graded by the real grader.

The end state is the one docs/contracts.md gives the demo: an initial and a retrained version with the decision recorded,
build/release/retrain/drift pipeline runs, each made by a CI run that act executed (push, dispatch,
schedule), drift runs saying drift and no drift; the team it built, graded by the demo itself, scores every point.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from grader.checks import all_checks
from grader.runner import grade_workspace
from solution import endpoint, workspace
from solution.demo import REPORT
from wth.ci.records import Records

pytestmark = pytest.mark.long

CLI = str(Path(sys.executable).with_name("wth-solution"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "ws"
    port = free_port()
    result = subprocess.run([CLI, "demo", "--workspace", str(root), "--port", str(port), "--keep-serving"],
                            capture_output=True, text=True, timeout=600)
    ws = workspace.resolve(root)
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield ws, result.stdout, port
    finally:
        endpoint.stop(ws)


def finished(ws, pipeline):
    exp = ws.client.get_experiment_by_name(ws.experiment)
    runs = ws.client.search_runs([exp.experiment_id], f"tags.`wth.pipeline` = '{pipeline}'")
    return [r for r in runs if r.info.status == "FINISHED"]


def test_demo_leaves_the_workspace_of_a_team_after_every_challenge(demo):
    ws, stdout, _ = demo
    versions = ws.client.search_model_versions(f"name='{ws.model_name}'")
    assert len(versions) >= 2
    for name in ("build", "release", "retrain", "drift"):
        assert finished(ws, name), f"no finished {name} pipeline run"
    (retrain,) = finished(ws, "retrain")
    assert {"champion_mase", "challenger_mase", "margin", "promoted"} <= set(retrain.data.metrics)
    assert retrain.data.tags["decision"] in ("promoted", "rejected")
    assert sorted(r.data.metrics["drift_detected"] for r in finished(ws, "drift")) == [0.0, 1.0]
    champion = workspace.champion(ws)
    expected = retrain.data.tags["challenger_version"] if retrain.data.tags["decision"] == "promoted" else "1"
    assert str(champion.version) == expected
    for line in ("scoring URI: http://127.0.0.1:", "curl -s -X POST", "champion ", "MLflow UI", "graded 1 team(s) in"):
        assert line in stdout
    assert "What The Hack - MLOps (demo)" in (ws.root / "scoreboard.html").read_text()  # by the grader's command


def test_every_pipeline_run_of_the_demo_was_made_by_a_ci_run(demo):
    ws, _, _ = demo
    records = {r.number: r for r in Records(ws.root).all()}
    assert {(Path(r.workflow).name, r.event) for r in records.values()} == {
        ("build.yml", "push"), ("release.yml", "workflow_dispatch"), ("retrain.yml", "workflow_dispatch"),
        ("drift.yml", "schedule"), ("drift.yml", "workflow_dispatch")}
    assert {r.conclusion for r in records.values()} == {"success"}
    releases = [r for r in records.values() if r.workflow.endswith("release.yml")]
    assert all(r.approved("production")["decision"] == "approved" for r in releases)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws.root / "repo", capture_output=True, text=True).stdout.strip()
    for name in ("build", "release", "retrain", "drift"):
        for run in finished(ws, name):
            made_by = records[int(run.data.tags["build_id"])]
            assert run.data.tags["git_commit"] == made_by.sha == head
            assert Path(made_by.workflow).stem == name


def test_the_demo_team_scores_every_point(demo):
    """The demo's own grading (`wth-grader scoreboard` on every check, its repository's tests in the sandbox) gives
    its reference team the full score of the checks registered: the reference repository has a team's shape."""
    ws, stdout, _ = demo
    report = json.loads((ws.root / REPORT).read_text())
    (team,) = report["teams"]
    checks = {c["id"]: c for challenge in team["challenges"] for c in challenge["checks"]}
    assert set(checks) == {c.id for c in all_checks()}
    failing = {i: (c["status"], c["message"]) for i, c in checks.items() if c["status"] != "pass"}
    assert not failing, failing
    assert team["reference"] is True
    assert team["score"] == team["max_score"] == sum(c.points for c in all_checks())
    assert f"{team['max_score']}/{team['max_score']}" in stdout.replace(" ", "")


def test_the_demo_team_with_an_empty_workspace_passes_none_of_c1_c3_c4(tmp_path):
    empty = workspace.resolve(tmp_path / "empty")
    empty.activate()  # an MLflow store with nothing in it
    graded = grade_workspace(empty.root, endpoint=f"http://127.0.0.1:{free_port()}/score", name="empty")
    statuses = {c.id: c.status for c in graded.results if c.id[:3] in ("C1.", "C3.", "C4.")}
    assert statuses and not [i for i, s in statuses.items() if s == "pass"], statuses
    assert list(graded.unreachable()) == ["endpoint"]  # the scoreboard's badge: nothing listens on that port
