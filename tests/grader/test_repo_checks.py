"""C2 against real team repositories: their own pytest run in a subprocess with a clean environment,
against a valid and a corrupted data file; a hanging test suite costs only its budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from grader_tools import FAKE_SECRET, build_repo, grade_one

from grader.checks import FAIL, PASS
from grader.testdata import CORRUPTIONS, DataFiles, corrupt


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("team-repos")
    return {kind: build_repo(root / kind, kind) for kind in ("ignores-data", "hangs", "env-dump")}


def _grade(tmp_path, ws, repo, **budgets):
    return grade_one(tmp_path, challenge=2, workspace=str(ws.root), repo=str(repo), budgets=budgets)


def test_tests_that_ignore_the_data_fail_c2_3(tmp_path, trained_ws, repos):
    team = _grade(tmp_path, trained_ws, repos["ignores-data"])
    assert team.result("C2.2").status == PASS
    result = team.result("C2.3")
    assert result.status == FAIL and result.points == 0
    assert "caught 0 of 7 kinds" in result.message and "a negative Quantity (the tests passed)" in result.message
    assert result.evidence["caught"] == [] and len(result.evidence["slipped_through"]) == 7
    assert team.result("C2.4").status == FAIL  # no pipeline in this repository


def test_a_hanging_test_suite_fails_within_the_pytest_budget(tmp_path, trained_ws, repos):
    team = _grade(tmp_path, trained_ws, repos["hangs"], pytest_s=3)
    result = team.result("C2.2")
    assert result.status == FAIL and "did not finish within 3 s" in result.message, result.message  # a sleep waits for no CPU
    assert result.duration_s < 10
    assert team.result("C2.3").status == "skipped"


def test_team_tests_never_see_the_coach_secrets(tmp_path, trained_ws, repos, monkeypatch):
    assert "FAKE-SECRET" in FAKE_SECRET  # what the team's test looks for
    monkeypatch.setenv("COACH_ADO_PAT", FAKE_SECRET)
    monkeypatch.setenv("WTH_ENV_MARKER", "let-through")
    monkeypatch.setattr("grader.probes.pytest_runs.PASSED_ENV", ("PATH", "WTH_ENV_MARKER"))  # let the marker through only
    result = _grade(tmp_path, trained_ws, repos["env-dump"]).result("C2.2")
    assert result.status == PASS, result.evidence["output_tail"]


def test_each_corrupted_file_breaks_one_rule():
    clean = "".join(f"{100000 + i}\t1\t2\t0\t2013-08-01 00:00:00\tS\t{i % 5}\t1.5\t2013-08-01 00:00:00\n" for i in range(60))
    assert set(CORRUPTIONS) == {"columns", "date", "negative-quantity", "fractional-quantity", "cost", "duplicate-id", "empty"}
    broken = {kind: [line.split("\t") for line in corrupt(clean, kind).splitlines()] for kind in CORRUPTIONS}
    assert broken["empty"] == []
    assert [sum(len(f) != 9 for f in rows) for kind, rows in broken.items() if kind != "empty"] == [1, 0, 0, 0, 0, 0]
    assert sum(f[4] == "2014-02-30 00:00:00" for f in broken["date"]) == 1
    assert sum(f[6].startswith("-") for f in broken["negative-quantity"]) == 1
    assert sum(f[6] == "2.5" for f in broken["fractional-quantity"]) == 1
    assert sum(f[7] == "n/a" for f in broken["cost"]) == 1
    assert len({f[0] for f in broken["duplicate-id"]}) == 59 and len({f[0] for f in broken["cost"]}) == 60


def test_runs_after_a_failing_gate_do_not_start(tmp_path):
    """The runs go in a random order; once the clean run (the gate) fails, no other run starts: a suite
    failing on good data is not run on the corrupted files."""
    import sys

    from grader.probes.pytest_runs import run_pytest

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "test_data.py").write_text("import os\n\ndef test_data_is_clean():\n"
                                       "    assert os.environ['WTH_DATA_FILE'].endswith('clean.csv')\n")
    files = {label: str(tmp_path / f"{label}.csv") for label in ("clean", "bad", "worse")}
    passing = run_pytest(repo, sys.executable, files, timeout=60, gate="clean")
    assert [run.returncode for run in passing.values()] == [0, 1, 1]
    assert all("warning" not in run.output for run in passing.values()), passing["clean"].output
    failing = run_pytest(repo, sys.executable, {"clean": files["bad"], "worse": files["worse"]}, timeout=60, gate="clean")
    assert failing["clean"].returncode == 1
    worse = failing["worse"]  # before the gate it ran and failed; after it, it never started
    assert (worse.returncode, worse.timed_out) == (1, False) or (worse.returncode, worse.output) == (None, "")


def test_a_data_files_path_never_says_what_it_holds(tmp_path):
    """A team's test sees the path in WTH_DATA_FILE: were it named by kind, failing on `negative` in it would
    score C2.3 without validating anything. Each file is TransactionHistory.csv in a folder named at random."""
    source = tmp_path / "TransactionHistory.csv"
    source.write_text("100000\t1\t2\t0\t2013-08-01 00:00:00\tS\t1\t1.5\t2013-08-01 00:00:00\n" * 12)
    files = DataFiles(str(source))
    try:
        data = files.get()
        paths = [data.clean, *data.corrupted.values()]
        assert {Path(p).name for p in paths} == {"TransactionHistory.csv"} and len({Path(p).parent for p in paths}) == 8
        assert len({Path(p).parent.parent for p in paths}) == 1
        words = {word for kind in CORRUPTIONS for word in kind.split("-")} | {"clean", "corrupt"}
        assert not [p for p in paths if any(word in p for word in words)]
    finally:
        files.close()
    assert not Path(data.clean).exists()
