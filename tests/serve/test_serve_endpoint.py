"""The local endpoint end to end, on the real azmlinfsrv in subprocesses: the CLI deploy, the contract over
HTTP, a rollout under load with zero failed requests, failed rollouts that keep the old version serving,
stale state, a crash, and a stop that leaves nothing behind. Tests run in file order and share one endpoint."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import requests
from serve_tools import (
    REPO_ROOT,
    TRAIN_END,
    cli,
    free_port,
    installed,
    listening,
    listening_ports,
    pid_gone,
    processes_mentioning,
    register,
    tree_pids,
    under_load,
)

from solution import acquisition, endpoint, endpoint_clients, forecast, workspace
from solution.endpoint import record
from solution.forecast import Forecast
from solution.servers import LAUNCH
from wth import contract, processes, smoke
from wth.errors import StepFailed, UsageError

PORT = free_port()
URI = f"http://127.0.0.1:{PORT}/score"


@pytest.fixture(scope="module")
def ws(clean_endpoint):
    return clean_endpoint


@pytest.fixture(scope="module")
def deployed(ws):
    """`wth-solution deploy --port P` (the installed command): prints the scoring URI, records the endpoint."""
    done = installed("deploy", "--workspace", str(ws.root), "--port", str(PORT))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == URI
    return endpoint.read_record(ws)


def post(body, uri=URI) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(uri, data=data, headers={"Content-Type": "application/json"}, timeout=30)


def test_deploy_serves_the_champion_on_the_contract(ws, deployed):
    champion = workspace.champion(ws)
    assert deployed.scoring_uri == URI and deployed.model_version == str(champion.version)
    assert requests.get(f"http://127.0.0.1:{PORT}/", timeout=10).status_code == 200
    body = post({"steps": 30}).json()
    assert len(body["forecast"]) == 30 and all(np.isfinite(body["forecast"]))
    assert body["dates"][0] == "2014-01-01" and body["dates"][-1] == "2014-01-30"
    assert body["model"] == {"name": "transactions-forecast", "version": str(champion.version)}
    assert endpoint.status(ws).serving


def test_openapi_and_logs_are_published(ws, deployed):
    spec = requests.get(f"http://127.0.0.1:{PORT}/swagger.json", params={"version": "3"}, timeout=10).json()
    assert spec["openapi"].startswith("3.") and "/score" in spec["paths"]
    lines = []
    assert endpoint.command(ws, "logs", progress=lines.append) == 0
    assert lines[0].startswith("==> ") and any("POST /score" in chunk for chunk in lines)


@pytest.mark.parametrize("bad", contract.BAD_INPUTS, ids=lambda bad: bad.label)
def test_bad_input_over_http_gets_4xx_with_an_error(deployed, bad):
    response = post(bad.body)
    assert 400 <= response.status_code < 500, response.text[:200]
    assert isinstance(response.json()["error"], str)


def test_the_router_and_the_deployment_listen_on_loopback_only(deployed):
    for pid, port in ((deployed.router_pid, PORT), (deployed.deployment.pid, deployed.deployment.port)):
        bound = {(c.laddr.ip, c.laddr.port) for p in tree_pids(pid)
                 for c in psutil.Process(p).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
        assert bound == {("127.0.0.1", port)}


SCORE = b'{"steps": 1}'
SMUGGLED = b"POST /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 12\r\n\r\n" + SCORE


def raw(*fields: bytes, body: bytes = SCORE, version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST /score %s\r\n%s\r\n%s" % (version, b"".join(f + b"\r\n" for f in fields), body)


def answers(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The responses on a connection, in order: status, headers, body."""
    out = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return out


def exchange(request: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send `request` then `SMUGGLED` on one connection as raw bytes; every answer until the router closes it."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as sock:
        sock.sendall(request + SMUGGLED)
        received = b""
        while chunk := sock.recv(65536):  # a socket.timeout here: the router kept the connection open
            received += chunk
    return answers(received)


HOST = b"Host: x"
BAD_FRAMING = {  # RFC 9112 6.3 (and 5.1, 5.2, 3.2): what a server must reject, each with 400
    "two different Content-Lengths": raw(HOST, b"Content-Length: 12", b"Content-Length: 0"),
    "the same Content-Length twice": raw(HOST, b"Content-Length: 12", b"Content-Length: 12"),
    "a list as Content-Length": raw(HOST, b"Content-Length: 12, 12"),
    "a signed Content-Length": raw(HOST, b"Content-Length: +12"),
    "a negative Content-Length": raw(HOST, b"Content-Length: -1"),
    "whitespace inside Content-Length": raw(HOST, b"Content-Length: 1 2"),
    "an underscore inside Content-Length": raw(HOST, b"Content-Length: 1_2"),  # Python's int() takes it
    "a hexadecimal Content-Length": raw(HOST, b"Content-Length: 0xc"),
    "an empty Content-Length": raw(HOST, b"Content-Length:"),
    "Transfer-Encoding with Content-Length": raw(HOST, b"Transfer-Encoding: chunked", b"Content-Length: 12"),
    "Transfer-Encoding not ending in chunked": raw(HOST, b"Transfer-Encoding: chunked, identity"),
    "Transfer-Encoding in HTTP/1.0": raw(b"Transfer-Encoding: chunked", version=b"HTTP/1.0"),
    "whitespace before a colon": raw(HOST, b"Content-Length : 12"),
    "a folded header line": raw(HOST, b"Content-Length: 1", b" 2"),
    "a bare LF inside a header": raw(HOST, b"Content-Length: 12", b"X-Note: a\nContent-Length: 0"),
    "no Host": raw(b"Content-Length: 12"),
    "two Hosts": raw(HOST, HOST, b"Content-Length: 12"),
}


def test_a_pipelined_request_is_answered_on_the_same_connection(deployed):
    """What the refusals below are measured against: well framed, both requests are answered."""
    assert [status for status, _, _ in exchange(raw(HOST, b"Content-Length: 12"))] == [200, 200]


@pytest.mark.parametrize("request_bytes", BAD_FRAMING.values(), ids=BAD_FRAMING.keys())
def test_bad_framing_is_refused_with_400_and_the_connection_closed(deployed, request_bytes):
    (status, headers, body), *more = exchange(request_bytes)
    assert status == 400 and headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error and "\n" not in error
    assert more == [], "the bytes after a request of doubtful length were read as another request"


def test_a_chunked_body_gets_411_and_the_connection_closed(deployed):
    (status, headers, body), *more = exchange(raw(HOST, b"Transfer-Encoding: chunked", body=b"c\r\n%s\r\n0\r\n\r\n" % SCORE))
    assert status == 411 and "Content-Length" in json.loads(body)["error"] and more == []


def test_a_deployment_scores_only_the_requests_of_its_router(ws, deployed):
    direct = deployed.deployment.url
    for sent in ({}, smoke.headers("not-the-secret")):
        refused = requests.post(direct, json={"steps": 3}, headers=sent, timeout=30)
        assert refused.status_code == 401 and "router" in refused.json()["error"]
    assert requests.post(direct, json={"steps": 3}, headers=smoke.headers(deployed.deployment.secret),
                         timeout=30).status_code == 200
    assert requests.get(f"http://127.0.0.1:{deployed.deployment.port}/", timeout=10).status_code == 200  # liveness
    assert post({"steps": 3}).status_code == 200
    assert deployed.deployment.secret not in repr(deployed)
    if sys.platform != "win32":  # no POSIX mode bits: the profile's owner-only ACL, as for the keys
        assert stat.S_IMODE((endpoint.folder(ws) / endpoint.RECORD).stat().st_mode) == 0o600


def test_smoke_test_passes_against_the_live_endpoint(ws, deployed):
    lines = []
    assert endpoint_clients.smoke_test(ws, progress=lines.append) == 0, lines
    assert lines[-1] == "smoke test passed"


def test_rollout_under_load_drops_no_request(ws, deployed):
    champion = workspace.champion(ws)
    series = acquisition.latest_acquired(ws.root).series()[:TRAIN_END]
    new = register(ws, forecast.fit("snaive", series), {})
    load = under_load(lambda session: session.post(URI, json={"steps": 30}, timeout=30),
                      lambda response: response.json()["model"]["version"],
                      lambda: endpoint.deploy(ws, version=new.version, port=PORT))
    seen, record = load.seen, load.result
    assert load.failures == []
    assert seen[0] == str(champion.version) and seen[-1] == str(new.version)
    assert record.scoring_uri == URI and record.model_version == str(new.version)
    assert pid_gone(deployed.deployment.pid) and not listening(deployed.deployment.port)
    assert endpoint.read_record(ws).deployment.pid == record.deployment.pid
    # the old server stopped by itself, its requests done (gunicorn's last line), though the router's pool
    # held kept-alive connections to it: it was not killed at the stop timeout
    assert Path(deployed.deployment.log).read_text().rstrip().endswith("Shutting down: Master")


def test_a_version_that_cannot_start_leaves_the_old_one_serving(ws):
    before = endpoint.read_record(ws)
    nan = Forecast(model="broken", params={}, train_start=pd.Timestamp("2013-07-31"),
                   train_end=pd.Timestamp(TRAIN_END), path=np.full(365, np.nan), errors=np.zeros((1, 7)))
    broken = register(ws, nan, {})
    with pytest.raises(StepFailed, match="exited with code"):
        endpoint.deploy(ws, version=broken.version)
    assert endpoint.read_record(ws) == before
    assert post({"steps": 3}).json()["model"]["version"] == before.model_version
    assert list((endpoint.folder(ws) / "deployments").iterdir()) == [Path(before.deployment.folder)]


def test_a_server_that_never_gets_healthy_is_killed(ws):
    mv = workspace.champion(ws)
    port = free_port()
    with pytest.raises(StepFailed, match="not healthy within"):
        endpoint.start_deployment(ws, mv, "slow", port=port, timeout=0.5)
    assert not listening(port)
    assert not (endpoint.folder(ws) / "deployments" / f"slow-v{mv.version}-{port}").exists()


def test_a_port_in_use_is_refused_before_anything_starts(ws):
    before = endpoint.read_record(ws)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError, match="in use"):
            endpoint.deploy(ws, port=busy.getsockname()[1])
    assert endpoint.read_record(ws) == before
    assert len(list((endpoint.folder(ws) / "deployments").iterdir())) == 1


def test_a_deploy_killed_once_its_server_runs_leaves_a_server_that_status_reaps(ws):
    """SIGKILL at the worst moment: the new deployment's server runs, and no record names it yet."""
    before = endpoint.read_record(ws)
    known = {Path(d.folder) for d in before.deployments.values()}
    deploy = subprocess.Popen([sys.executable, "-m", "solution", "deploy", "--workspace", str(ws.root)],
                              cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, started = time.monotonic() + 120, None
        while started is None:
            assert deploy.poll() is None and time.monotonic() < deadline, "the deploy never started a server"
            for pid_file in (endpoint.folder(ws) / "deployments").glob("*/server.pid"):
                identity = processes.Identity.load(pid_file)
                if pid_file.parent not in known and identity is not None and identity.running():
                    started = pid_file.parent, identity
            time.sleep(0.02)
    finally:
        deploy.kill()
        deploy.wait()
    folder, server = started
    assert endpoint.read_record(ws) == before, "the record named the new deployment: killed too late"
    port = int(folder.name.rsplit("-", 1)[1])
    while not listening(port):  # the orphan outlives its deploy and goes on to serve
        assert server.running() and time.monotonic() < deadline + 60
        time.sleep(0.1)
    orphans = tree_pids(server.pid)
    lines = []
    assert endpoint.command(ws, "status", progress=lines.append) == 0, lines
    assert lines[0].startswith(f"reaped the server of deployment folder {folder.name} (pid {server.pid})"), lines
    assert all(pid_gone(pid) for pid in orphans) and not listening(port) and not folder.exists()
    assert endpoint.read_record(ws) == before and post({"steps": 3}).json()["model"]["version"] == before.model_version
    again = []
    assert endpoint.command(ws, "status", progress=again.append) == 0 and not again[0].startswith("reaped")


ORPHAN = "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True, stdout=subprocess.DEVNULL, " \
         "stderr=subprocess.DEVNULL)"  # starts a process and exits: the process is an orphan, as a killed deploy leaves


def stray_router(ws) -> tuple[int, processes.Identity]:
    """A router that no record names, as a deploy killed while moving the endpoint to another port leaves one
    (started as `_start_router` starts one, without waiting for its health: it may have no deployment)."""
    port = free_port()
    pid_file = endpoint.folder(ws) / f"router-{port}.pid"
    subprocess.run([sys.executable, "-c", ORPHAN, sys.executable, str(LAUNCH), str(pid_file),
                    *endpoint.rollout.router_argv(ws, port, "127.0.0.1")], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while not listening(port):
        assert time.monotonic() < deadline, "the stray router did not start"
        time.sleep(0.05)
    return port, processes.Identity.load(pid_file)


def test_status_reaps_nothing_while_a_deploy_holds_the_lock(ws):
    port, stray = stray_router(ws)
    try:
        with record.lock(ws):
            lines = []
            endpoint.command(ws, "status", progress=lines.append)
            assert "under way" in lines[0] and stray.running() and listening(port)
        assert endpoint.status(ws).reaped == [f"reaped the router on port {port} (pid {stray.pid}): "
                                              f"{endpoint.rollout.LEFT}"]
        assert not stray.running() and not listening(port)
    finally:
        processes.stop_tree(stray.pid, identity=stray)


def test_a_crashed_deployment_shows_in_status_and_the_router_answers_503(ws):
    record = endpoint.read_record(ws)
    for process in reversed(processes.tree(record.deployment.pid)):  # the master first: it respawns a killed worker
        process.kill()
    deadline = time.monotonic() + 10
    while not pid_gone(record.deployment.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = []
    assert endpoint.command(ws, "status", progress=lines.append) == 1
    assert any("GONE" in line for line in lines)
    response = post({"steps": 3})
    assert response.status_code == 503 and "error" in response.json()


def test_endpoint_stop_leaves_nothing_listening_and_no_process(ws):
    record = endpoint.read_record(ws)
    tree = tree_pids(record.router_pid)
    port, stray = stray_router(ws)
    done = cli("endpoint", "stop", "--workspace", str(ws.root))
    assert done.returncode == 0, done.stderr
    assert f"reaped the router on port {port} (pid {stray.pid})" in done.stdout
    assert not stray.running() and not listening(port)
    assert not listening(PORT) and not listening(record.deployment.port)
    assert tree and all(pid_gone(pid) for pid in tree) and not listening_ports(tree)
    assert pid_gone(record.router_pid) and pid_gone(record.deployment.pid)
    assert endpoint.read_record(ws) is None
    assert not processes_mentioning(str(ws.root)), "an orphan process still refers to the workspace"
    assert endpoint.command(ws, "status", progress=lambda line: None) == 1


def test_a_stale_record_is_cleaned_without_touching_a_reused_pid(tmp_path):
    ws = workspace.Workspace(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        endpoint.folder(ws).mkdir()
        born = processes.Identity.of(bystander.pid).created
        reused = born - 100  # the record names this pid, but a process started earlier: the pid was reused
        stale = endpoint.Endpoint(
            scoring_uri="http://127.0.0.1:1/score", port=1, host="127.0.0.1", router_pid=bystander.pid,
            router_created=reused, router_log="x", auth_mode="none", traffic={"blue": 100},
            deployments={"blue": endpoint.Deployment("blue", "m", "1", 2, bystander.pid, reused,
                                                     str(tmp_path / "gone"), "x", "t", "s")})
        record.write(ws, stale)
        processes.Identity(bystander.pid, reused).save(endpoint.folder(ws) / "router-1.pid")
        assert endpoint.live(ws) is None and endpoint.read_record(ws) is None
        assert endpoint.stop(ws) is False
        assert bystander.poll() is None, "a pid that is not ours was signalled"
        (endpoint.folder(ws) / endpoint.RECORD).write_text("{half a rec")
        with pytest.raises(UsageError, match="endpoint stop"):
            endpoint.live(ws)
        assert endpoint.stop(ws) is False and endpoint.read_record(ws) is None
    finally:
        bystander.kill()
        bystander.wait()


def test_deploy_of_an_unknown_version_is_bad_usage(ws):
    done = cli("deploy", "--workspace", str(ws.root), "--version", "99")
    assert done.returncode == 2 and "version 99" in done.stderr and not listening(PORT)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    with pytest.raises(UsageError):
        endpoint.deploy(ws, port=70000)


def test_the_readme_states_the_deployments_grace():
    assert f"within its {endpoint.deployments.GRACE_S}-s grace" in (REPO_ROOT / "README.md").read_text()


def test_the_endpoint_commands_read_the_folder_without_importing_mlflow(tmp_path):
    """`wth-solution endpoint status|keys|traffic|stop` need the record, not MLflow (2 s to import)."""
    probe = subprocess.run([sys.executable, "-c", "import sys; from solution import cli; "
                            f"code = cli.main(['endpoint', 'status', '--workspace', {str(tmp_path)!r}]); "
                            "print(code, 'mlflow' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert probe.stdout.split()[-2:] == ["1", "False"], probe.stdout + probe.stderr
