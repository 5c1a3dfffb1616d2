"""The local endpoint: a registered version served by Azure ML's inference server (`azmlinfsrv`), behind
one stable scoring URI, rolled out without downtime.

Shaped like an Azure ML managed online endpoint: the *endpoint* is a small router on the stable port
(`http://127.0.0.1:<port>/score`, default 5001) and each *deployment* is an `azmlinfsrv` process on a
private loopback port serving one model version with `solution/score.py`. The router forwards every
request to the deployment named in the endpoint record (`<workspace>/endpoint/endpoint.json`), which
is the source of truth; clients (the grader, the report, Power BI) keep one URI across versions.

A rollout starts the new version on a new port, smoke-tests it there, switches the record (the router
follows on its next request), and only then stops the old server, which finishes the requests it
holds. A failed new deployment is stopped and the record is left as it was. Every process is started
in its own session and stopped by process group, so nothing is left behind.

Run as `python -m solution.endpoint --router RECORD --port P` it is the router itself (stdlib only,
so it starts in a fraction of a second).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from wth.errors import StepFailed, UsageError

from . import processes
from .processes import HOST, STOP_TIMEOUT, free_port, port_free  # noqa: F401  (the public names of this module)

DEFAULT_PORT = 5001
RECORD = "endpoint.json"
IDENTITY = "identity.json"  # read by score.py
WORKERS = 2
START_TIMEOUT = float(os.environ.get("WTH_ENDPOINT_START_TIMEOUT", "120"))
ROUTER_RETRY_S = 2.0  # a switch-over race lasts milliseconds; a dead deployment gets 503 soon
ROUTER_MAX_BODY = 8 << 20  # the entry script refuses anything over 1 MiB itself, with the contract's error
SCORE_PY = Path(__file__).resolve().parent / "score.py"

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# --- the record -----------------------------------------------------------------------------------


@dataclass
class Deployment:
    model_name: str
    version: str
    port: int
    pid: int
    folder: str
    log: str
    started_at: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/score"


@dataclass
class Endpoint:
    scoring_uri: str
    port: int
    router_pid: int
    router_log: str
    deployment: Deployment
    updated_at: str
    host: str = HOST  # the router's bind address; deployments always stay on loopback

    @property
    def model_version(self) -> str:
        return self.deployment.version


def folder(ws) -> Path:
    return Path(ws.root) / "endpoint"


def read_record(ws) -> Endpoint | None:
    path = folder(ws) / RECORD
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Endpoint(**{**data, "deployment": Deployment(**data["deployment"])})
    except (ValueError, TypeError, KeyError):
        raise UsageError(f"{path}: unreadable endpoint record; `wth-solution endpoint stop` clears it") from None


def _write_record(ws, record: Endpoint) -> None:
    path = folder(ws) / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2))
    os.replace(tmp, path)  # atomic: the router never reads half a record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- processes ------------------------------------------------------------------------------------


SERVER = ("azmlinfsrv", "azureml_inference_server_http")  # its command line, or gunicorn's retitled one
ROUTER = ("solution.endpoint",)


# --- deployments: one azmlinfsrv each -------------------------------------------------------------


def materialise(ws, model_version, into: Path) -> Path:
    """Lay the version out as Azure ML does (`azureml-models/<name>/<version>/model`) with an identity file;
    return the model dir for `AZUREML_MODEL_DIR`."""
    import mlflow

    model_dir = into / "azureml-models" / model_version.name / str(model_version.version)
    model_dir.mkdir(parents=True)
    ws.activate()
    try:
        mlflow.artifacts.download_artifacts(f"models:/{model_version.name}/{model_version.version}",
                                            dst_path=str(model_dir / "model"))
    except Exception as err:  # MLflow raises several types for a missing or unreadable artifact
        raise StepFailed(f"cannot download {model_version.name} version {model_version.version}: {err}") from None
    (model_dir / IDENTITY).write_text(json.dumps({"name": model_version.name, "version": str(model_version.version),
                                                  "run_id": model_version.run_id}))
    return model_dir


GUNICORN_CONF = '''\
# Written by `wth-solution deploy` for one local deployment.
import os

control_socket_disable = True  # gunicorn's default control socket is one path shared by every server


def on_starting(server):
    # azmlinfsrv binds 0.0.0.0 (right inside a container); locally it listens on loopback, behind the router.
    server.cfg.set("bind", ["{host}:{port}"])


def worker_exit(server, worker):
    # The worker has finished its requests: skip the interpreter teardown, which takes seconds with the
    # model's libraries loaded and would hold up every rollout and stop.
    os._exit(0)


def on_exit(server):
    os._exit(0)
'''


def start_deployment(ws, model_version, port: int | None = None, timeout: float = START_TIMEOUT) -> Deployment:
    """Materialise `model_version` and serve it with azmlinfsrv on a private port; wait until healthy."""
    server = Path(sys.executable).parent / "azmlinfsrv"
    if not server.exists():
        raise StepFailed(f"{server} not found: install azureml-inference-server-http into this environment")
    port = port or processes.free_port()
    where = folder(ws) / "deployments" / f"v{model_version.version}-{port}"
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    try:
        model_dir = materialise(ws, model_version, where)
        (where / "gunicorn.conf.py").write_text(GUNICORN_CONF.format(host=HOST, port=port))
        from wth.contract import openapi

        (where / "swagger3.json").write_text(json.dumps(openapi(), indent=2))
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",  # scoring slices lists: no BLAS threads
               **os.environ, "WORKER_COUNT": str(WORKERS), "WORKER_PRELOAD": "true", "AML_APP_ROOT": str(where),
               "GUNICORN_CMD_ARGS": f"--config {shlex.quote(str(where / 'gunicorn.conf.py'))}",
               "PYTHONUNBUFFERED": "1"}
        log = folder(ws) / "logs" / f"{where.name}.log"  # outside the folder: kept when a failed start removes it
        log.parent.mkdir(exist_ok=True)
        pid = processes.spawn([str(server), "--entry_script", str(SCORE_PY), "--model_dir", str(model_dir), "--port", str(port)],
                     cwd=where, log=log, env=env, marker="server", port=port, timeout=timeout,
                     what=f"azmlinfsrv for version {model_version.version}")
    except BaseException:
        _stop_recorded(where)
        shutil.rmtree(where, ignore_errors=True)
        raise
    return Deployment(model_name=model_version.name, version=str(model_version.version), port=port, pid=pid,
                      folder=str(where), log=str(log), started_at=_now())


def _stop_recorded(where: Path) -> None:
    """Stop whatever a folder's pid files name, if it is still ours; used for clean-up of any state."""
    for pid_file, markers in ((where / "server.pid", SERVER), (where / "router.pid", ROUTER)):
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if processes.ours(pid, markers):
            processes.stop_group(pid)
        pid_file.unlink(missing_ok=True)


def stop_deployment(deployment: Deployment) -> None:
    where = Path(deployment.folder)
    if processes.ours(deployment.pid, SERVER):
        processes.stop_group(deployment.pid)
    _stop_recorded(where)
    shutil.rmtree(where, ignore_errors=True)


# --- the router: the stable URI -------------------------------------------------------------------


class _Router(BaseHTTPRequestHandler):
    """Forwards every request to the deployment the record names; retries when that server is gone."""

    protocol_version = "HTTP/1.1"
    server_version = "wth-endpoint"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    record_path: Path
    _cache: tuple = (None, None)

    def _backend(self) -> int | None:
        try:
            stat = self.record_path.stat()
        except OSError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if _Router._cache[0] != key:
            try:
                port = int(json.loads(self.record_path.read_text())["deployment"]["port"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
            _Router._cache = (key, port)
        return _Router._cache[1]

    def _reply(self, status: int, body: bytes, content_type: str = "application/json", close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, reason: str, close: bool = False) -> None:
        self._reply(status, json.dumps({"error": reason}).encode(), close=close)

    def _forward(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._error(411, "send a Content-Length (chunked bodies are not accepted)", close=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._error(400, "bad Content-Length", close=True)
        if length > ROUTER_MAX_BODY or length < 0:
            return self._error(413, f"request body over {ROUTER_MAX_BODY} bytes", close=True)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "x-request-id")}
        deadline = time.monotonic() + ROUTER_RETRY_S
        while time.monotonic() < deadline:
            port = self._backend()
            if port is None:
                break
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected):
                _Router._cache = (None, None)  # the deployment went away: re-read the record and retry
                time.sleep(0.05)
                continue
            except OSError as err:
                return self._error(502, f"the deployment did not answer ({type(err).__name__})")
            finally:
                conn.close()
            return self._reply(response.status, data, response.getheader("Content-Type", "application/json"))
        self._error(503, "no deployment is serving: see `wth-solution endpoint status`")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _forward

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the deployments keep the access log; the router logs only its start and errors

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")


class _RouterServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve_router(record: Path, port: int, host: str = HOST) -> None:
    _Router.record_path = record
    server = _RouterServer((host, port), _Router)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"router on http://{host}:{port}/score following {record}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


def _start_router(ws, port: int, host: str) -> int:
    where = folder(ws)
    argv = [sys.executable, "-m", "solution.endpoint", "--router", str(where / RECORD), "--port", str(port),
            "--host", host]
    return processes.spawn(argv, cwd=where, log=where / "router.log", env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           marker="router", port=port, timeout=30, what=f"the endpoint router on {host}:{port}",
                           host=host)


# --- the library the CLI, the demo and the pipelines call -----------------------------------------


@contextlib.contextmanager
def _lock(ws) -> Iterator[None]:
    folder(ws).mkdir(parents=True, exist_ok=True)
    with open(folder(ws) / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another deploy or stop is running on {folder(ws)}; wait for it") from None
        yield


def live(ws) -> Endpoint | None:
    """The record when its router is running, else None (a stale record is cleaned up)."""
    record = read_record(ws)
    if record is None:
        return None
    if processes.ours(record.router_pid, ROUTER):
        return record
    _clean(ws)
    return None


def _clean(ws) -> None:
    """Stop every process any state in the endpoint folder names and forget the record."""
    where = folder(ws)
    if not where.exists():
        return
    _stop_recorded(where)
    for deployment in sorted((where / "deployments").glob("*")):
        _stop_recorded(deployment)
        shutil.rmtree(deployment, ignore_errors=True)
    (where / RECORD).unlink(missing_ok=True)


def deploy(ws, version: str | int | None = None, alias: str | None = None, port: int | None = None,
           progress: Progress = _quiet, host: str | None = None) -> Endpoint:
    """Serve a registered version (default: the champion) on `http://127.0.0.1:<port>/score`.

    `host` is the router's bind address (default loopback, or the current endpoint's): `0.0.0.0` or a
    LAN address lets a coach's grader on another machine reach a team's laptop.

    With an endpoint already serving, this is a rollout: the old version serves until the new one has
    passed the smoke test, and a failure leaves it serving with the record unchanged.
    """
    from wth import smoke

    from . import workspace

    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port (1..65535)")
    mv = workspace.model_version(ws, version=version, alias=alias)
    with _lock(ws):
        current = live(ws)
        for stray in sorted((folder(ws) / "deployments").glob("*")):  # left by an interrupted deploy
            if current is None or stray != Path(current.deployment.folder):
                _stop_recorded(stray)
                shutil.rmtree(stray, ignore_errors=True)
        port = port or (current.port if current else DEFAULT_PORT)
        host = host or (current.host if current else HOST)
        moving = current is None or current.port != port or current.host != host
        if current and current.port == port and current.host != host:
            raise UsageError(f"the endpoint listens on {current.host}:{port}; two routers cannot share the port "
                             "during a rollout: choose another --port, or `wth-solution endpoint stop` first")
        if moving and not processes.port_free(port, host):
            raise UsageError(f"port {port} on {host} is in use or not an address of this machine; "
                             "choose another with --port or --host")
        progress(f"starting azmlinfsrv for {mv.name} version {mv.version}")
        new = start_deployment(ws, mv)
        failures = smoke.check(new.url, expected_version=str(mv.version), expected_train_end=mv.tags.get("train_end"))
        if failures:
            stop_deployment(new)
            kept = f"; version {current.model_version} keeps serving" if current else ""
            raise StepFailed(f"version {mv.version} failed the smoke test ({failures[0]}){kept}")
        progress(f"version {mv.version} passed the smoke test on port {new.port}")
        record = Endpoint(scoring_uri=f"http://{processes.reachable(host)}:{port}/score", port=port,
                          router_pid=current.router_pid if current else 0,
                          router_log=str(folder(ws) / "router.log"), deployment=new, updated_at=_now(), host=host)
        _write_record(ws, record)  # the switch: the running router follows the record from its next request
        if moving:
            try:
                record.router_pid = _start_router(ws, port, host)
            except StepFailed:
                stop_deployment(new)
                if current:
                    _write_record(ws, current)
                else:
                    (folder(ws) / RECORD).unlink(missing_ok=True)
                raise
            _write_record(ws, record)
        if current:
            time.sleep(0.2)  # requests the router sent before the switch reach the old server, which finishes them
            stop_deployment(current.deployment)
            if moving:
                processes.stop_group(current.router_pid)
            progress(f"stopped version {current.model_version}")
        progress(f"serving {mv.name} version {mv.version} at {record.scoring_uri}")
        if host == "0.0.0.0":
            progress(f"listening on every interface: other machines use http://<this machine's address>:{port}/score")
        return record


def stop(ws, progress: Progress = _quiet) -> bool:
    """Stop the endpoint and every deployment; True if something was running."""
    with _lock(ws):
        try:
            record = read_record(ws)
        except UsageError:
            record = None  # unreadable: the pid files in the endpoint folder still name what to stop
        running = bool(record and processes.ours(record.router_pid, ROUTER))
        if record:
            if processes.ours(record.router_pid, ROUTER):
                processes.stop_group(record.router_pid)
            if processes.ours(record.deployment.pid, SERVER):
                processes.stop_group(record.deployment.pid)
        _clean(ws)
    progress(f"stopped the endpoint on port {record.port}" if running else "no endpoint was running")
    return running


@dataclass
class Status:
    record: Endpoint | None
    router_running: bool
    server_running: bool
    healthy: bool

    @property
    def serving(self) -> bool:
        return self.router_running and self.server_running and self.healthy


def status(ws) -> Status:
    record = read_record(ws)
    if record is None:
        return Status(None, False, False, False)
    router = processes.ours(record.router_pid, ROUTER)
    server = processes.ours(record.deployment.pid, SERVER)
    return Status(record, router, server, router and server and processes.healthy(record.port, host=record.host))


def command(ws, action: str, progress: Progress = print) -> int:
    """`wth-solution endpoint status|stop|logs`; status exits 1 when nothing healthy is serving."""
    if action == "stop":
        stop(ws, progress)
        return 0
    state = status(ws)
    record = state.record
    if record is None:
        progress(f"no endpoint deployed in {ws.root}")
        return 1
    if action == "logs":
        for path in (Path(record.deployment.log), Path(record.router_log)):
            progress(f"==> {path} <==")
            progress("\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else "(no log)")
        return 0
    d = record.deployment
    progress(f"scoring URI   {record.scoring_uri}")
    progress(f"model         {d.model_name} version {d.version} (since {d.started_at})")
    progress(f"router        pid {record.router_pid}: {'running' if state.router_running else 'GONE'}")
    progress(f"azmlinfsrv    pid {d.pid} on port {d.port}: {'running' if state.server_running else 'GONE'}")
    progress(f"health        {'healthy' if state.healthy else 'NOT HEALTHY'}")
    progress(f"logs          {d.log}")
    if not state.serving:
        progress("the endpoint is not serving: `wth-solution deploy` starts it again")
    return 0 if state.serving else 1


def release_pipeline(ws, port: int | None = None, progress: Progress = _quiet) -> Endpoint:
    """The release pipeline: deploy the champion and smoke-test the endpoint, recorded as a pipeline run."""
    import mlflow

    from wth import smoke

    from . import workspace

    mv = workspace.model_version(ws)
    with workspace.pipeline_run(ws, "release", model_version=str(mv.version)) as parent:
        with workspace.step("deploy"):
            record = deploy(ws, alias=None, version=mv.version, port=port, progress=progress)
            mlflow.set_tags({"model_version": record.model_version, "scoring_uri": record.scoring_uri})
        mlflow.set_tag("scoring_uri", record.scoring_uri)
        with workspace.step("smoke-test"):
            failures = smoke.check(record.scoring_uri, expected_version=str(mv.version),
                                   expected_train_end=mv.tags.get("train_end"))
            mlflow.log_metrics({"checks_failed": len(failures)})
            for line in failures:
                progress(f"  FAIL {line}")
            if failures:
                raise StepFailed(f"the smoke test failed {len(failures)} check(s) on {record.scoring_uri}")
        progress(f"release run {parent.info.run_id}: version {mv.version} live at {record.scoring_uri}")
    return record


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the endpoint's router (started by `wth-solution deploy`)")
    parser.add_argument("--router", required=True, type=Path, metavar="RECORD")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default=HOST)
    args = parser.parse_args()
    serve_router(args.router, args.port, args.host)
