"""The runner's budgets and error handling, and the endpoint probe's safety rules, against real
servers on 127.0.0.1."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from endpoints import ContractEndpoint, DrippingEndpoint, HangingEndpoint
from grader_tools import free_port, write_teams

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


def test_probe_cuts_off_a_drip_and_takes_a_json_bomb_for_no_json():
    drip, bomb = DrippingEndpoint(every_s=0.05), ContractEndpoint("bomb")
    try:
        with pytest.raises(Unreachable, match="no complete answer within 1 s"):  # the drip never ends: only the deadline
            EndpointProbe(Endpoint(uri=drip.uri), connect_s=0.5, read_s=0.5).get_root()
        answer = EndpointProbe(Endpoint(uri=bomb.uri)).score({"steps": 1})
        assert answer.status == 200 and answer.body is None
    finally:
        drip.close()
        bomb.close()


def test_the_key_goes_to_the_endpoint_s_origin_only(monkeypatch):
    monkeypatch.setenv("TEAM_KEY", "team-key-123456")
    endpoint, elsewhere = ContractEndpoint("echo"), ContractEndpoint("echo")
    try:
        probe = EndpointProbe(Endpoint(uri=endpoint.uri, key_env="TEAM_KEY"))
        assert probe.score({"steps": 1}).key_sent and probe.request("GET", elsewhere.uri).key_sent is False
    finally:
        endpoint.close()
        elsewhere.close()
    assert endpoint.seen_headers[0]["Authorization"] == "Bearer team-key-123456"
    assert "Authorization" not in elsewhere.seen_headers[0]


def test_the_grading_machine_short_of_descriptors_is_an_error_not_the_team_s_crash(tmp_path):
    def starved(ctx):
        raise OSError(errno.EMFILE, "Too many open files")

    outcome = runner._run_with_budget(_check(starved), _Ctx(tmp_path), 5)
    assert outcome.status == ERROR and "ran short of resources (Too many open files)" in outcome.message
    assert not (tmp_path / "grader.log").exists()


PASSES = 20  # each costs the drip its 0.4 s budget
DRIP_SERVER = """import sys
sys.path.insert(0, sys.argv[1])
from endpoints import DrippingEndpoint
print(DrippingEndpoint(every_s=0.05).uri, flush=True)
sys.stdin.read()
"""


def test_many_passes_against_a_dripping_endpoint_leave_no_thread_or_descriptor(tmp_path):
    """`watch`'s pass (grade, history, reports) again and again, a team's endpoint dripping a byte at a time
    (in a process of its own): every pass ends its threads and closes its sockets and files."""
    from grader import cli, teams

    server = subprocess.Popen([sys.executable, "-c", DRIP_SERVER, str(Path(__file__).parents[1])], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    honest = ContractEndpoint("error200")
    try:
        drip = server.stdout.readline().strip()
        budgets = {"connect_s": 0.2, "read_s": 0.2, "check_s": 1}  # a check still reading past 1 s is abandoned
        entries = [{"name": name, "workspace": str(tmp_path / "none"), "endpoint": uri, "repo": None, "budgets": budgets}
                   for name, uri in (("drip", drip), ("honest", honest.uri))]
        cfg = teams.load(write_teams(tmp_path / "teams.yaml", entries))
        me, counts = psutil.Process(), []
        for _ in range(PASSES):
            results = cli.grade_and_write(cfg, tmp_path / "s.json", None, tmp_path / "s.html", quiet=True,
                                          sources=frozenset({"endpoint"}))
            counts.append((me.num_threads(), me.num_fds()))
        # the fewest after the first passes (which load what they load once): a thread or socket still ending when a
        # pass was counted (the honest server's handler, on a loaded machine) is given a moment; one kept is not
        fewest, settled = tuple(min(c[i] for c in counts[2:]) for i in (0, 1)), time.monotonic() + 5
        while any(now > most for now, most in zip((me.num_threads(), me.num_fds()), fewest)) and time.monotonic() < settled:
            time.sleep(0.1)
        left = (me.num_threads(), me.num_fds())
    finally:
        server.kill()
        server.wait()
        honest.close()
    by_name = {r.name: r for r in results}
    assert "no complete answer within 0.4 s" in by_name["drip"].result("C3.1").message
    assert by_name["honest"].result("C3.1").status == "pass"
    assert left[0] <= fewest[0] and left[1] <= fewest[1], (left, counts)



def test_a_tracking_server_gets_only_its_own_token_and_no_drip_holds_the_grader(monkeypatch):
    from grader.probes import mlflow as mlflow_probe
    from grader.teams import WorkspaceRef

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "coach-token-123456")  # MLflow's own variable: never sent
    monkeypatch.setenv("TEAM_TOKEN", "team-token-123456")
    monkeypatch.setattr(mlflow_probe, "ANSWER_S", 1.0)
    named, other, drip = ContractEndpoint("echo"), ContractEndpoint("echo"), DrippingEndpoint(every_s=0.05)
    try:
        for server, token_env in ((named, "TEAM_TOKEN"), (other, None)):
            ref = WorkspaceRef(tracking_uri=server.uri.removesuffix("/score"), token_env=token_env)
            try:
                assert mlflow_probe.MlflowProbe(ref, "e", "m").experiments is not None
            except NotGradable:
                pass  # not an MLflow server: only what it was sent matters here
        with pytest.raises(NotGradable, match="no complete answer within 1 s"):
            assert mlflow_probe.MlflowProbe(WorkspaceRef(tracking_uri=drip.uri.removesuffix("/score")), "e", "m").experiments
    finally:
        for server in (named, other, drip):
            server.close()
    assert [h.get("Authorization") for h in named.seen_headers] == ["Bearer team-token-123456"] * len(named.seen_headers)
    assert other.seen_headers and not [h for h in other.seen_headers if "Authorization" in h]


def test_a_file_the_grader_may_not_read_is_an_error(tmp_path):
    def locked(ctx):
        raise PermissionError(errno.EACCES, "Permission denied", "/teams/alpha/.pipelines/build.yml")

    outcome = runner._run_with_budget(_check(locked), _Ctx(tmp_path), 5)
    assert outcome.status == ERROR and "may not read /teams/alpha/.pipelines/build.yml" in outcome.message


def _parse_in_threads(parse) -> list[SystemError]:
    """Four threads parsing while their garbage's finalizers hand the GIL over in mid-parse (as the
    grader's threads do, full of MLflow's and pandas' objects): CPython 3.11's `ast.parse` fails so."""
    import gc

    source = "\n".join(f"def f{i}(a):\n    return [(a, (a, (a, [a, {{a: a}}])))]" for i in range(50))
    failures: list[SystemError] = []

    class Litter:
        def __init__(self):
            self.me = self  # a cycle: freed by a collection, in the middle of another allocation

        def __del__(self):
            time.sleep(0)  # lets another thread run

    def work():
        for _ in range(50):
            Litter()
            try:
                parse(source)
            except SystemError as err:
                failures.append(err)
                return

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*threshold)
    return failures


def test_team_code_is_parsed_safely_from_several_threads():
    import ast

    from grader import parsing

    assert _parse_in_threads(parsing.parse) == []
    if sys.version_info[:2] == (3, 11):  # the crash the lock prevents (CPython gh-106905) is there without it
        assert any("recursion depth mismatch" in str(err) for err in _parse_in_threads(ast.parse))
