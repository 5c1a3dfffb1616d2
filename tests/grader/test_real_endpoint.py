"""The grader against the product's own endpoint: the champion of a complete team workspace deployed
with `solution.endpoint.deploy` (the real azmlinfsrv server behind the solution's router), graded
on every endpoint check of C3 and C4."""

from __future__ import annotations

import shutil

import pytest
from grader_tools import free_port

from grader import runner
from grader.checks import PASS
from solution import endpoint, workspace

ENDPOINT_CHECKS = ["C3.1", "C3.2", "C3.3", "C3.4", "C3.5", "C4.4"]


@pytest.fixture(scope="module")
def deployed(full_ws, tmp_path_factory):
    copy = workspace.resolve(shutil.copytree(full_ws.root, tmp_path_factory.mktemp("deployed") / "ws"))
    record = endpoint.deploy(copy, port=free_port())
    try:
        yield copy, record.scoring_uri
    finally:
        endpoint.stop(copy)


def test_the_solutions_endpoint_passes_every_endpoint_check(deployed, lean_repo):
    ws, uri = deployed
    team = runner.grade_workspace(ws.root, endpoint=uri, repo=lean_repo, sources=frozenset({"workspace", "endpoint"}))
    results = {r.id: r for r in team.results}
    assert {c: results[c].status for c in ENDPOINT_CHECKS} == dict.fromkeys(ENDPOINT_CHECKS, PASS), \
        {c: results[c].message for c in ENDPOINT_CHECKS}
    assert results["C3.5"].evidence["served"] == {"name": "transactions-forecast", "version": "2"}


@pytest.mark.slow
def test_the_endpoint_serving_an_old_version_fails_c3_5_and_c4_4(deployed, lean_repo):
    ws, uri = deployed
    endpoint.deploy(ws, version="1")  # roll back the endpoint only: the champion tag stays on 2
    try:
        team = runner.grade_workspace(ws.root, endpoint=uri, repo=lean_repo, challenge=4)
        assert team.result("C4.4").status == "fail", team.result("C4.4").message
        assert "still serves version 1" in team.result("C4.4").message
        assert runner.grade_workspace(ws.root, endpoint=uri, repo=lean_repo, challenge=3).result("C3.5").status == "fail"
    finally:
        endpoint.deploy(ws, version="2")
