"""The runner's budgets and error handling, and the endpoint probe's safety rules, against real
servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from endpoints import ContractEndpoint, HangingEndpoint
from grader_tools import free_port

from grader import runner
from grader.checks import CRASH, ERROR, Check, passed
from grader.context import Session
from grader.not_gradable import NotGradable
from grader.probes.endpoint import EndpointProbe, Unreachable
from grader.redaction import redact
from grader.teams import Budgets, Config, Endpoint, Team


class _Ctx:
    team = Team(name="t", workspace="/nonexistent", endpoint=None, repo=None)

    def __init__(self, grader_dir=Path("/nonexistent/.grader")):
        self.session = Session(Config(event="t", teams=[self.team], grader_dir=grader_dir))


def _check(func, slow=False):
    return Check("C9.9", "test", 1, "x", (), func, slow)


def test_a_check_past_its_budget_is_an_error_and_does_not_block():
    gate = threading.Event()
    started = time.monotonic()
    outcome = runner._run_with_budget(_check(lambda ctx: gate.wait(30) or passed("late")), _Ctx(), 0.5)
    gate.set()
    assert outcome.status == ERROR and "did not finish within its budget" in outcome.message
    assert time.monotonic() - started < 2


def test_a_bug_in_a_check_is_a_crash_with_its_traceback_in_the_grader_log(tmp_path):
    def broken(ctx):
        raise KeyError("forecast")

    outcome = runner._run_with_budget(_check(broken), _Ctx(tmp_path), 5)
    assert outcome.status == CRASH and "KeyError" in outcome.message and "not the team's result" in outcome.message
    log = (tmp_path / "grader.log").read_text()
    assert str(tmp_path / "grader.log") in outcome.message
    assert "t C9.9 crashed" in log and "Traceback (most recent call last)" in log and "in broken" in log


def test_what_cannot_be_graded_is_an_error_not_a_crash(tmp_path):
    def unreachable(ctx):
        raise NotGradable("workspace unreachable")

    outcome = runner._run_with_budget(_check(unreachable), _Ctx(tmp_path), 5)
    assert outcome.status == ERROR and outcome.message == "not gradable: workspace unreachable"
    assert not (tmp_path / "grader.log").exists()


def test_a_check_returning_nonsense_is_a_crash(tmp_path):
    assert runner._run_with_budget(_check(lambda ctx: "yes"), _Ctx(tmp_path), 5).status == CRASH


def test_redaction_reaches_nested_evidence():
    assert redact({"a": ["x SECRETVALUE y", {"b": "SECRETVALUE"}]}, ["SECRETVALUE"]) == {"a": ["x *** y", {"b": "***"}]}


def test_one_hanging_endpoint_does_not_slow_the_others(tmp_path):
    hang = HangingEndpoint()
    ok = ContractEndpoint("error200")
    budgets = Budgets(connect_s=1, read_s=5)
    teams = [Team(name=name, workspace=tmp_path / "none", endpoint=uri, repo=None, budgets=budgets)
             for name, uri in (("h0", hang.uri), ("h1", hang.uri), ("fine", ok.uri))]
    cfg = Config(event="t", teams=teams, grader_dir=tmp_path / ".grader")
    try:
        results = {r.name: r for r in runner.grade(cfg, challenge=3)}
    finally:
        hang.close()
        ok.close()
    assert results["fine"].duration_s < 3  # graded while the hanging teams still wait for their 5 s
    assert results["h0"].result("C3.1").status == "fail" and 5 <= results["h0"].duration_s < 9


def test_team_budget_stops_further_checks(tmp_path):
    hang = HangingEndpoint()
    team = Team(name="slow", workspace=tmp_path / "none", endpoint=hang.uri, repo=None,
                budgets=Budgets(connect_s=1, read_s=3, team_s=1, check_s=10))
    try:
        result = runner.grade(Config(event="t", teams=[team], grader_dir=tmp_path / ".g"), challenge=3)[0]
    finally:
        hang.close()
    assert result.result("C3.1").status == ERROR and "budget of 1 s" in result.result("C3.1").message
    assert result.result("C3.6").status == "skipped"  # it depends on C0.1, which failed (no workspace)
    assert result.duration_s < 3


def test_probe_refuses_cross_host_redirects_and_huge_answers():
    redirect, huge = ContractEndpoint("redirect"), ContractEndpoint("huge")
    try:
        with pytest.raises(Unreachable, match="redirected to another origin"):
            EndpointProbe(Endpoint(uri=redirect.uri)).score({"steps": 1})
        with pytest.raises(Unreachable, match="more than 1024 kB"):
            EndpointProbe(Endpoint(uri=huge.uri)).score({"steps": 1})
    finally:
        redirect.close()
        huge.close()


def test_probe_reports_refused_connections_plainly():
    uri = f"http://127.0.0.1:{free_port()}/score"  # nothing listens there
    with pytest.raises(Unreachable, match="connection refused"):
        EndpointProbe(Endpoint(uri=uri), connect_s=1, read_s=1).get_root()


def test_one_teams_slow_probe_does_not_hold_up_another_teams():
    """Python 3.11's functools.cached_property locks across all instances of a class; the grader's does not."""
    from grader.cached_property import cached_property

    entered, release = threading.Event(), threading.Event()

    class Probe:
        def __init__(self, slow: bool):
            self.slow = slow

        @cached_property
        def answer(self) -> str:
            if self.slow:
                entered.set()
                release.wait(10)
            return "slow" if self.slow else "fast"

    slow, fast, got = Probe(True), Probe(False), {}
    hanging = threading.Thread(target=lambda: slow.answer, daemon=True)
    hanging.start()
    assert entered.wait(5)
    other = threading.Thread(target=lambda: got.setdefault("fast", fast.answer), daemon=True)
    other.start()
    other.join(2)
    release.set()
    hanging.join(5)
    assert got == {"fast": "fast"} and slow.answer == "slow" and "answer" in vars(slow)
