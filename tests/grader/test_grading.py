"""Grading real team workspaces, repositories and endpoints at different stages: a complete team passes,
an empty one passes none of C1/C3/C4, an endpoint answering 200 with an error payload fails C3, one
that never answers fails within its budget, and the grader never writes to a team's workspace."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from endpoints import ContractEndpoint, HangingEndpoint
from grader_tools import FAKE_SECRET, champion_forecast, write_teams

from grader import runner, teams
from grader.checks import CRASH, ERROR, FAIL, PASS, SKIPPED

WORKSPACE_AND_ENDPOINT = ["C0.1", "C1.1", "C1.2", "C1.3", "C2.5", "C2.6", "C3.1", "C3.2", "C3.3", "C3.4", "C3.5",
                          "C3.6", "C4.1", "C4.2", "C4.3", "C4.4", "C5.1", "C5.2", "C5.3"]


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "mlflow.db").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def endpoints(full_ws):
    fc, version = champion_forecast(full_ws)
    made = {"good": ContractEndpoint("good", fc, version), "error200": ContractEndpoint("error200"),
            "hang": HangingEndpoint()}
    yield made
    for endpoint in made.values():
        endpoint.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, full_ws, trained_ws, empty_ws, good_repo, lean_repo, batches, endpoints, monkeypatch_module):
    monkeypatch_module.setenv("WTH_TEST_ENDPOINT_KEY", FAKE_SECRET)
    missing = tmp_path_factory.mktemp("missing") / "never-created"
    folder = tmp_path_factory.mktemp("grading")
    path = write_teams(folder / "teams.yaml", [
        {"name": "complete", "workspace": str(full_ws.root), "repo": str(good_repo),
         "endpoint": {"uri": endpoints["good"].uri, "key_env": "WTH_TEST_ENDPOINT_KEY"}},
        {"name": "trained", "workspace": str(trained_ws.root), "endpoint": endpoints["error200"].uri,
         "repo": str(lean_repo)},
        {"name": "empty", "workspace": str(empty_ws.root), "endpoint": endpoints["hang"].uri, "repo": None},
        {"name": "missing", "workspace": str(missing), "endpoint": None, "repo": str(folder / "no-repo")},
    ], drift_batches=batches, defaults={"budgets": {"read_s": 2, "connect_s": 1}})
    before = {name: _digest(ws.root) for name, ws in (("full", full_ws), ("empty", empty_ws))}
    started = time.monotonic()
    results = runner.grade(teams.load(path))
    elapsed = time.monotonic() - started
    return {r.name: r for r in results}, before, missing, elapsed


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _status(team, check_id):
    return team.result(check_id).status


def test_complete_team_passes_every_workspace_and_endpoint_check(graded):
    team = graded[0]["complete"]
    failing = {c: f"{team.result(c).status}: {team.result(c).message}" for c in WORKSPACE_AND_ENDPOINT
               if _status(team, c) != PASS}
    assert failing == {}


def test_complete_team_passes_the_repository_checks(graded):
    team = graded[0]["complete"]
    assert {c: _status(team, c) for c in ("C0.2", "C2.1", "C2.2", "C2.3", "C2.4", "C5.4")} == dict.fromkeys(
        ("C0.2", "C2.1", "C2.2", "C2.3", "C2.4", "C5.4"), PASS)
    assert team.score == team.max_score
    c23 = team.result("C2.3")
    assert c23.points == 10 and c23.evidence["slipped_through"] == [] and len(c23.evidence["caught"]) == 7


def test_c4_3_reads_the_retrain_pipeline_run_not_its_evaluate_step(graded):
    """The retrain run records the decision; its evaluate step, a newer run, carries the same metrics."""
    team = graded[0]["complete"]
    c43 = team.result("C4.3")
    assert c43.evidence["decision"] == "promoted" and c43.evidence["metrics_from"] == c43.evidence["run_id"]
    assert f"retrain pipeline run {c43.evidence['run_id'][:8]} decided 'promoted'" in c43.message


def test_holdout_mase_is_computed_from_the_endpoint(graded):
    result = graded[0]["complete"].result("C3.4")
    evidence = result.evidence
    assert evidence["origin"] == "2014-05-31" and evidence["days"] == 28
    assert 0 < evidence["mase"] < evidence["snaive_mase"]
    assert "PUBLIC default holdout" in result.message  # no coach seed configured in this test


def test_endpoint_answering_200_with_an_error_fails_c3(graded):
    team = graded[0]["trained"]
    assert _status(team, "C3.1") == PASS
    assert _status(team, "C3.2") == FAIL and "error payload" in team.result("C3.2").message
    assert _status(team, "C3.3") == FAIL
    assert {_status(team, c) for c in ("C3.4", "C3.5", "C4.4")} == {SKIPPED}
    assert {_status(team, c) for c in ("C1.1", "C1.2", "C1.3", "C2.5", "C2.6")} == {PASS}


def test_hanging_endpoint_fails_within_its_budget(graded):
    team = graded[0]["empty"]
    result = team.result("C3.1")
    assert result.status == FAIL and "sent no complete answer within 3 s" in result.message
    assert result.duration_s < 5


def test_empty_workspace_passes_none_of_c1_c3_c4(graded):
    team = graded[0]["empty"]
    assert _status(team, "C0.1") == PASS
    passed = [r.id for r in team.results if r.challenge in (1, 3, 4) and r.status == PASS]
    assert passed == []
    assert _status(team, "C1.2") == FAIL and "no run logs a `mase` metric" in team.result("C1.2").message


def test_missing_workspace_fails_c0_and_is_not_created(graded):
    team, missing = graded[0]["missing"], graded[2]
    assert _status(team, "C0.1") == FAIL and "no workspace folder" in team.result("C0.1").message
    assert {r.status for r in team.results if r.challenge in (1, 3, 4)} <= {SKIPPED, FAIL}
    assert not missing.exists()


def test_grading_never_writes_to_a_team_workspace(graded, full_ws, empty_ws):
    before = graded[1]
    assert _digest(full_ws.root) == before["full"] and _digest(empty_ws.root) == before["empty"]


def test_teams_are_graded_in_parallel(graded):
    teams, elapsed = graded[0], graded[3]
    assert elapsed < sum(t.duration_s for t in teams.values())


def test_endpoint_key_is_sent_but_never_reported(graded, endpoints):
    assert any(h.get("Authorization") == f"Bearer {FAKE_SECRET}" for h in endpoints["good"].seen_headers)
    for team in graded[0].values():
        for r in team.results:
            assert FAKE_SECRET not in r.message + repr(r.evidence)


def test_no_error_status_on_a_healthy_room(graded):
    errors = {(t.name, r.id): r.message for t in graded[0].values() for r in t.results if r.status in (ERROR, CRASH)}
    assert errors == {}


def test_grade_workspace_for_the_demo(full_ws, lean_repo, endpoints, tmp_path):
    """The demo's last step: one workspace + endpoint graded as a team, without a teams file; the repository
    backs its CI runs, its own checks are left out."""
    from grader import scoreboard

    team = runner.grade_workspace(full_ws.root, endpoint=endpoints["good"].uri, repo=lean_repo,
                                  sources=frozenset({"workspace", "endpoint"}))
    assert [r.id for r in team.results] == WORKSPACE_AND_ENDPOINT
    assert team.score == team.max_score, {r.id: r.message for r in team.results if r.status != PASS}
    page = scoreboard.write_html(tmp_path / "board.html", "demo", [team])
    assert "reference" in page.read_text() and "C3.4" in page.read_text()
