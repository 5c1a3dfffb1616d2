"""Named deployments and traffic, as an Azure ML online endpoint has them: two versions deployed as `blue`
and `green` behind one URI, a 90/10 split measured over 2,000 requests, `green` reached by the
`azureml-model-deployment` header whatever the split, a shift to 100/0 under load with no failed request,
and a stop that leaves no process of either deployment or of the router. Tests run in file order."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from serve_tools import (
    TRAIN_END,
    cli,
    free_port,
    listening,
    listening_ports,
    pid_gone,
    register,
    tree_pids,
    under_load,
)

from solution import acquisition, endpoint, forecast, workspace
from wth import contract
from wth.errors import UsageError


@pytest.fixture(scope="module")
def pair(clean_endpoint):
    """The champion as `blue` (alone: 100%), then a seasonal-naive version as `green` at 10%."""
    ws = clean_endpoint
    champion = workspace.champion(ws)
    series = acquisition.latest_acquired(ws.root).series()[:TRAIN_END]
    other = register(ws, forecast.fit("snaive", series), {})
    port = free_port()  # picked just before it is bound: a port picked at import may be taken by then
    first = cli("deploy", "--workspace", str(ws.root), "--port", str(port), "--deployment", "blue")
    assert first.returncode == 0, first.stderr
    assert endpoint.read_record(ws).traffic == {"blue": 100}
    second = cli("deploy", "--workspace", str(ws.root), "--deployment", "green", "--version", str(other.version),
                 "--traffic", "10")
    assert second.returncode == 0, second.stderr
    assert "traffic: blue 90%, green 10%" in second.stdout
    return ws, {"blue": str(champion.version), "green": str(other.version)}


@pytest.fixture(scope="module")
def score(pair):
    uri = endpoint.read_record(pair[0]).scoring_uri

    def post(session: requests.Session, **headers) -> requests.Response:
        return session.post(uri, json={"steps": 3}, headers=headers, timeout=30)
    return post


def test_status_shows_both_deployments_their_versions_and_traffic(pair):
    ws, versions = pair
    done = cli("endpoint", "status", "--workspace", str(ws.root))
    assert done.returncode == 0, done.stdout
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.split()[:1] in (["blue"], ["green"])}
    assert rows["blue"][1] == "90%" and rows["green"][1] == "10%"
    assert rows["blue"][3] == f"v{versions['blue']}" and rows["green"][3] == f"v{versions['green']}"


def test_the_split_measured_over_2000_requests_is_90_10(pair, score):
    _, versions = pair
    by_header, by_version = Counter(), Counter()
    with requests.Session() as session:
        for _ in range(2000):
            response = score(session)
            assert response.status_code == 200
            by_header[response.headers[contract.DEPLOYMENT_HEADER]] += 1
            by_version[response.json()["model"]["version"]] += 1
    assert by_version == Counter({versions["blue"]: by_header["blue"], versions["green"]: by_header["green"]})
    assert abs(100 * by_header["green"] / 2000 - 10) <= 3, by_header


def test_the_header_reaches_a_deployment_whatever_the_split(pair, score):
    _, versions = pair
    with requests.Session() as session:
        answers = [score(session, **{contract.DEPLOYMENT_HEADER: "green"}) for _ in range(30)]
        assert {a.json()["model"]["version"] for a in answers} == {versions["green"]}
        unknown = score(session, **{contract.DEPLOYMENT_HEADER: "purple"})
    assert unknown.status_code == 404 and "purple" in unknown.json()["error"]


def test_bad_traffic_is_refused_with_a_reason_and_changes_nothing(pair):
    ws, _ = pair
    before = endpoint.read_record(ws).traffic
    done = cli("endpoint", "traffic", "blue=50", "green=40", "--workspace", str(ws.root))
    assert done.returncode == 2 and "add up to 100" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    for args, reason in ((["blue=90", "red=10"], "no deployment named 'red'"), (["blue"], "NAME=PERCENT"),
                         (["blue=90", "blue=10"], "given twice"), ([], "give the split")):
        with pytest.raises(UsageError, match=reason):
            endpoint.command(ws, "traffic", progress=lambda line: None, split=args)
    assert endpoint.read_record(ws).traffic == before


def test_shift_to_100_0_under_load_fails_no_request(pair, score):
    ws, versions = pair
    load = under_load(score, lambda response: response.headers[contract.DEPLOYMENT_HEADER],
                      lambda: endpoint.set_traffic(ws, endpoint.parse_split(["blue=100", "green=0"])), deadline_s=60)
    seen, switched = load.seen, load.marked
    assert load.failures == []
    assert "green" in seen[:switched]
    # each of the 8 clients may yet record one answer picked before the switch, anywhere after the mark
    # (a thread can be held up between its answer and its record while the others go on): no more
    assert seen[switched:].count("green") <= 8, seen[switched:]
    assert endpoint.read_record(ws).traffic == {"blue": 100, "green": 0}
    with requests.Session() as session:  # at 0% green still answers when asked by name
        assert score(session, **{contract.DEPLOYMENT_HEADER: "green"}).json()["model"]["version"] == versions["green"]


def test_stop_leaves_no_process_and_no_port_of_either_deployment(pair):
    ws, _ = pair
    current = endpoint.read_record(ws)
    trees = tree_pids(current.router_pid) + [pid for d in current.deployments.values() for pid in tree_pids(d.pid)]
    assert len(trees) >= 1 + 2 * 3, "the router, and each azmlinfsrv master with its two workers"
    assert endpoint.stop(ws) is True
    assert all(pid_gone(pid) for pid in trees) and not listening_ports(trees)
    assert not listening(current.port) and not any(listening(d.port) for d in current.deployments.values())


@pytest.mark.parametrize(("args", "code"), [(["endpoint", "traffic", "green=100", "blue=0"], 2), (["endpoint", "stop"], 0),
                                           (["endpoint", "keys"], 2), (["endpoint", "status"], 1)])
def test_an_endpoint_command_on_a_mistyped_workspace_leaves_no_trace(tmp_path, args, code, capsys):
    from solution import cli as solution_cli

    where = tmp_path / "no-such" / "ws"
    assert solution_cli.main([*args, "--workspace", str(where)]) == code
    said = capsys.readouterr()
    assert not (tmp_path / "no-such").exists() and "Traceback" not in said.err and said.err.count("\n") <= 1
