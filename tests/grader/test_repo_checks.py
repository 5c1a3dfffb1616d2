"""C2 against real team repositories: their own pytest run in a subprocess with a clean environment,
against a valid and a corrupted data file; a hanging test suite costs only its budget."""

from __future__ import annotations

import json

import pytest
from grader_tools import FAKE_SECRET, build_repo, write_teams

from grader import config, runner
from grader.checks import FAIL, PASS
from grader.testdata import corrupt


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("team-repos")
    return {kind: build_repo(root / kind, kind) for kind in ("ignores-data", "hangs", "env-dump")}


def _grade(tmp_path, ws, repo, **budgets):
    path = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(ws.root), "endpoint": None,
                                                  "repo": str(repo), "budgets": budgets}])
    return runner.grade(config.load(path), challenge=2)[0]


def test_tests_that_ignore_the_data_fail_c2_3(tmp_path, trained_ws, repos):
    team = _grade(tmp_path, trained_ws, repos["ignores-data"])
    assert team.result("C2.2").status == PASS
    result = team.result("C2.3")
    assert result.status == FAIL and "still pass when WTH_DATA_FILE points to a corrupted file" in result.message
    assert result.evidence["exit_code"] == 0
    assert team.result("C2.4").status == FAIL  # no pipeline in this repository


def test_a_hanging_test_suite_fails_within_the_pytest_budget(tmp_path, trained_ws, repos):
    team = _grade(tmp_path, trained_ws, repos["hangs"], pytest_s=3)
    result = team.result("C2.2")
    assert result.status == FAIL and "did not finish within 3 s" in result.message
    assert result.duration_s < 10
    assert team.result("C2.3").status == "skipped"


def test_team_tests_never_see_the_coach_secrets(tmp_path, trained_ws, repos, monkeypatch):
    dump = tmp_path / "env.json"
    monkeypatch.setenv("COACH_ADO_PAT", FAKE_SECRET)
    monkeypatch.setenv("WTH_ENV_DUMP", str(dump))
    monkeypatch.setattr("grader.probes.repo.PASSED_ENV", ("PATH", "WTH_ENV_DUMP"))  # let the marker through only
    team = _grade(tmp_path, trained_ws, repos["env-dump"])
    assert team.result("C2.2").status == PASS
    env = json.loads(dump.read_text())
    assert FAKE_SECRET not in json.dumps(env)
    assert env["WTH_DATA_FILE"].endswith("TransactionHistory.csv") and "COACH_ADO_PAT" not in env


def test_corruption_breaks_each_rule_once():
    clean = "".join(f"{100000 + i}\t1\t2\t0\t2013-08-01 00:00:00\tS\t{i % 5}\t1.5\t2013-08-01 00:00:00\n" for i in range(60))
    bad = corrupt(clean).splitlines()
    fields = [line.split("\t") for line in bad]
    assert len(bad) == 60
    assert sum(len(f) != 9 for f in fields) == 1
    assert sum(f[4] == "2014-02-30 00:00:00" for f in fields if len(f) == 9) == 1
    assert sum(f[6].startswith("-") for f in fields if len(f) == 9) == 1
    assert len({f[0] for f in fields}) == 59
    assert sum(f[7] == "n/a" for f in fields if len(f) == 9) == 1
