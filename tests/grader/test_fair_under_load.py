"""The grader's overload is never the team's failure: the same complete team graded alone and on a
machine saturated by 4x its CPUs' worth of busy processes scores the same, or `error` (not gradable,
regraded on the next pass), never fewer points. Its pytest budget is cut to a little more than its
tests take alone, and the team is small (one quick test file, no pandas), so the saturated part lasts
seconds."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psutil
from grader_tools import QUICK_VALIDATION, build_repo, write_teams

from grader import runner, teams
from grader.checks import ERROR, PASS, all_checks
from grader.context import Session
from grader.probes.pytest_runs import run_pytest

TEAM_TESTS = ("C2.1", "C2.2", "C2.3")
PYTEST_S = 5  # the team's 8 runs take about 3 s of CPU; saturated, they get a fifth of a CPU


@contextmanager
def saturated():
    """4x the machine's CPUs' worth of busy processes, stopped (by their ids) on leaving. Each in a session of
    its own, as each sandboxed run is: Linux's autogroup shares the CPUs between sessions, not processes."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(4 * (psutil.cpu_count() or 1))]
    try:
        yield
    finally:
        for process in busy:
            process.kill()
        for process in busy:
            process.wait()


def _grade(tmp_path, repo, **budgets):
    data = tmp_path / "TransactionHistory.csv"  # a small file: the pass's data files are made in seconds
    data.write_text("".join(f"{100000 + i}\t1\t2\t0\t2013-08-01 00:00:00\tS\t{i % 5}\t1.5\t2013-08-01 00:00:00\n"
                            for i in range(200)))
    path = write_teams(tmp_path / "teams.yaml", [{"name": "small", "workspace": str(tmp_path / "ws"), "endpoint": None,
                                                  "repo": str(repo), "budgets": budgets}], data_file=str(data))
    cfg = teams.load(path)
    session = Session(cfg)
    try:
        return runner.grade_team(cfg.teams[0], session, exclude=frozenset(c.id for c in all_checks()
                                                                          if c.id not in TEAM_TESTS))
    finally:
        session.close()


def test_a_saturated_machine_costs_the_team_no_points(tmp_path):
    repo = build_repo(tmp_path / "small", "custom", {"test_data.py": QUICK_VALIDATION})
    alone = _grade(tmp_path, repo, pytest_s=PYTEST_S)
    assert [alone.result(c).status for c in TEAM_TESTS] == [PASS] * 3, [alone.result(c).message for c in TEAM_TESTS]
    loop = tmp_path / "busy"
    loop.mkdir()
    (loop / "test_busy.py").write_text("def test_busy():\n    while True:\n        pass\n")
    with saturated(), ThreadPoolExecutor(1) as beside:
        busy = beside.submit(run_pytest, loop, sys.executable, {"clean": None}, timeout=3)
        loaded = _grade(tmp_path, repo, pytest_s=PYTEST_S)
        busy = busy.result()["clean"]
    for check_id in TEAM_TESTS:
        before, after = alone.result(check_id), loaded.result(check_id)
        assert after.status == ERROR or (after.status, after.points) == (before.status, before.points), after.message
    # a test that wants a CPU all the time, starved past its clock's allowance: it says how
    assert busy.timed_out and busy.contended and "waited" in busy.contended and "other processes" in busy.contended, busy
