"""Deployments: one registered version each, served by Azure ML's inference server (`azmlinfsrv`) with
`solution/score.py` on a private loopback port, in `<workspace>/endpoint/deployments/<name>-v<version>-<port>/`.
Each gets a secret of its own, in the (owner-only) record: its server scores only requests bearing it,
which the router adds, so the port is no way round the endpoint's key.

On Linux and macOS azmlinfsrv runs gunicorn (our config binds it to loopback and uses threaded workers,
which keep connections alive for the router); on Windows it runs waitress, its own Windows mode.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

from wth import contract, settings
from wth.errors import StepFailed, UsageError
from wth.processes import HOST, Identity

from .. import servers
from .record import Deployment, folder, now

IDENTITY = "identity.json"  # read by score.py
WORKERS = 2
SCORE_PY = Path(__file__).resolve().parent.parent / "score.py"
NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]|[a-z]")  # Azure ML's deployment names: 1..32, lower-case


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise UsageError(f"--deployment {name!r}: a deployment name is 1-32 lower-case letters, digits or '-', "
                         "starting with a letter (e.g. blue, green)")
    return name


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


GRACE_S = 2  # a retired server's time to finish its requests: scoring takes milliseconds

GUNICORN_CONF = '''\
# Written by `wth-solution deploy` for one local deployment.
import os

control_socket_disable = True  # gunicorn's default control socket is one path shared by every server
worker_class = "gthread"  # threaded workers keep connections alive: the router reuses them
threads = 4
keepalive = 75  # seconds; longer than the router keeps an idle connection in its pool
# On SIGTERM a worker finishes its requests, but it also waits for the router's idle kept-alive
# connections, up to graceful_timeout (30 s by default): every rollout and stop waited that long.
graceful_timeout = {grace_s}
MAX_BODY = {max_body}  # wth.contract.MAX_BODY: the entry script refuses a longer body unread


def pre_request(worker, req):
    # A body the entry script refuses unread would be parsed as the next request on a kept-alive
    # connection: answer it with Connection: close instead.
    length = None
    for name, value in req.headers:
        if name == "CONTENT-LENGTH" and value.strip().isdigit():
            length = int(value)
    if length is not None and length > MAX_BODY:
        req.must_close = True


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


def start(ws, model_version, name: str, port: int | None = None, timeout: float | None = None) -> Deployment:
    """Materialise `model_version` and serve it as deployment `name` on a private port; wait until healthy
    (`timeout` seconds, by default `$WTH_ENDPOINT_START_TIMEOUT`)."""
    from ..score import SECRET_ENV

    server = Path(sysconfig.get_path("scripts")) / ("azmlinfsrv.exe" if sys.platform == "win32" else "azmlinfsrv")
    if not server.exists():
        raise StepFailed(f"{server} not found: install azureml-inference-server-http into this environment")
    port = port or servers.free_port()
    where = folder(ws) / "deployments" / f"{name}-v{model_version.version}-{port}"
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    secret = secrets.token_urlsafe(32)
    try:
        model_dir = materialise(ws, model_version, where)
        conf = GUNICORN_CONF.format(host=HOST, port=port, max_body=contract.MAX_BODY, grace_s=GRACE_S)
        (where / "gunicorn.conf.py").write_text(conf)
        (where / "swagger3.json").write_text(json.dumps(contract.openapi(), indent=2))
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",  # scoring slices lists: no BLAS threads
               **os.environ, "WORKER_COUNT": str(WORKERS), "WORKER_PRELOAD": "true", "AML_APP_ROOT": str(where),
               "GUNICORN_CMD_ARGS": f"--config {shlex.quote(str(where / 'gunicorn.conf.py'))}",
               "PYTHONUNBUFFERED": "1", SECRET_ENV: secret}
        log = folder(ws) / "logs" / f"{where.name}.log"  # outside the folder: kept when a failed start removes it
        log.parent.mkdir(exist_ok=True)
        identity = servers.spawn(
            [str(server), "--entry_script", str(SCORE_PY), "--model_dir", str(model_dir), "--port", str(port)],
            cwd=where, log=log, env=env, marker="server", port=port,
            timeout=timeout or float(settings.ENDPOINT_START_TIMEOUT.get()),
            what=f"azmlinfsrv for version {model_version.version}")
    except BaseException:
        stop_recorded(where)
        shutil.rmtree(where, ignore_errors=True)
        raise
    return Deployment(name=name, model_name=model_version.name, version=str(model_version.version), port=port,
                      pid=identity.pid, created=identity.created, folder=str(where), log=str(log), started_at=now(),
                      secret=secret)


def stop_recorded(where: Path) -> list[Identity]:
    """Stop whatever the pid files in a folder name, if it is still that process; the ones stopped."""
    return [identity for pid_file in sorted(where.glob("*.pid")) if (identity := servers.stop_named(pid_file))]


def stop(deployment: Deployment) -> None:
    servers.stop(deployment.identity)
    where = Path(deployment.folder)
    if where.exists():
        stop_recorded(where)
        shutil.rmtree(where, ignore_errors=True)
