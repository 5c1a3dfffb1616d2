"""Read-only view of a team's MLflow workspace: runs, pipeline runs, registered versions, artifacts.

A local folder or sqlite file is read through a snapshot: sqlite's backup API copies the team's
`mlflow.db` (opened read-only) into a temporary file that MLflow then opens, so grading can never
create, migrate or modify a team's store (MLflow itself would create folders and run migrations
next to any database it opens) and one grading pass sees one consistent state; artifacts are read
where the store says they are. Each workspace has one snapshot file for the life of the process,
refreshed in place by each pass: MLflow keeps a store and an SQLAlchemy engine per database URI for
as long as the process lives (holding the file open), so a new file per pass would leave one more of
each per team per pass (`wth-grader watch`: a file descriptor, a deleted file's disk space and
several MB each time). An HTTP tracking URI (a team's `mlflow server`,
or the one an Azure ML workspace exposes) goes through MLflow's REST client with short timeouts. From
the first team tracking URI on, every request MLflow makes in the process goes through the grader's
own request auth (`_Guard`): no credential of MLflow's own reaches any server, a teams file's
`workspace.token_env` reaches its own server only, no redirect is followed, and each answer's body is
read within ANSWER_S and ANSWER_MB.
Answers are cached per probe: one grading pass sees one consistent snapshot.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import tempfile
import threading
import time
from hashlib import sha256
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from mlflow.entities import Run, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider
from mlflow.tracking.request_auth.registry import _request_auth_provider_registry

from wth import registry
from wth.store import DB_FILE
from wth.workspace_contract import PIPELINE_TAG

from ..cached_property import cached_property
from ..not_gradable import NotGradable
from ..teams import WorkspaceRef

# a grader must fail fast: MLflow's REST client defaults to 120 s timeouts and 7 retries
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
for _name in ("mlflow.store.db.utils", "alembic", "mlflow.tracking._tracking_service.utils"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

MAX_RUNS = 2000
ANSWER_MB = 64  # of one answer of a tracking server (2,000 runs with their params, metrics and tags fit)
ANSWER_S = 30.0  # one answer's body, read in full within this; each of its reads waits MLFLOW_HTTP_REQUEST_TIMEOUT at most
AUTH = "wth-grader"  # the name of the grader's own request auth (below), MLflow's MLFLOW_TRACKING_AUTH
TOKENS: dict[tuple[str, str], str] = {}  # (scheme, host:port) of a team's tracking server -> its token_env
_CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                "MLFLOW_TRACKING_CLIENT_CERT_PATH", "MLFLOW_TRACKING_AWS_SIGV4")


class StrangerAnswer(Exception):
    """A tracking server's answer the grader does not take: a redirect, too large, or too slow."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _read_answer(response: requests.Response, *args, deadline: float, **kwargs) -> requests.Response:
    """A response hook: refuses a redirect; reads the body within `deadline` and ANSWER_MB."""
    if response.is_redirect:
        response.close()
        raise StrangerAnswer(f"the grader follows no redirect of a tracking server (to "
                             f"{response.headers.get('Location', '')[:80]})")
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    body, cap = bytearray(), ANSWER_MB << 20
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StrangerAnswer(f"no complete answer within {ANSWER_S:g} s")
            if sock is not None:
                sock.settimeout(min(left, float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])))
            chunk = response.raw.read1(1 << 16)
            if not chunk:
                break
            body += chunk
            if len(body) > cap:
                raise StrangerAnswer(f"an answer of more than {ANSWER_MB} MB, refused")
    finally:
        response.close()
    response._content, response._content_consumed = bytes(body), True
    return response


class _Guard(requests.auth.AuthBase):
    """Every request MLflow makes in the grader: MLflow's own credentials (its variables, ~/.mlflow/credentials)
    taken off, the teams file's token put on for its own tracking server only, and the answer read by
    `_read_answer`."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        token = os.environ.get(TOKENS.get(_origin(request.url), ""), "")
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", functools.partial(_read_answer, deadline=time.monotonic() + ANSWER_S))
        return request


class _GuardProvider(RequestAuthProvider):
    def get_name(self) -> str:
        return AUTH

    def get_auth(self) -> _Guard:
        return _Guard()


@functools.lru_cache(maxsize=1)
def guard() -> None:
    """From the first remote store on, every request MLflow makes in this process goes through `_Guard`
    (MLflow reads its auth and credentials from the environment at each request)."""
    _request_auth_provider_registry.register(_GuardProvider)
    os.environ["MLFLOW_TRACKING_AUTH"] = AUTH
    for name in _CREDENTIALS:
        os.environ.pop(name, None)


class WorkspaceMissing(Exception):
    """The configured local workspace does not exist or is not an MLflow store (the team's to fix)."""


def _sqlite_file(ref: WorkspaceRef) -> Path:
    path = Path(ref.location)
    db = path / DB_FILE if ref.kind == "folder" else path
    if ref.kind == "folder" and not path.is_dir():
        raise WorkspaceMissing(f"no workspace folder at {path}")
    if not db.is_file():
        raise WorkspaceMissing(f"no MLflow store at {db} (create the workspace as Challenge 00 shows)")
    try:  # MLflow retries a broken database for minutes: look first
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        raise WorkspaceMissing(f"{db} is not a readable sqlite database ({err})") from None
    if not {"experiments", "runs", "alembic_version"} <= tables:
        raise WorkspaceMissing(f"{db} is a sqlite file but not an MLflow store (no experiments/runs tables)")
    return db


def change_marker(ref: WorkspaceRef) -> tuple | None:
    """What changes whenever a local store does: its database file's and write-ahead log's size and
    modification time (None for each that is missing); None for a remote store, which has no cheap one."""
    if ref.kind not in ("folder", "sqlite"):
        return None
    db = Path(ref.location) / DB_FILE if ref.kind == "folder" else Path(ref.location)
    marker = []
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            info = path.stat()
        except OSError:
            marker.append(None)
            continue
        marker.append((info.st_size, info.st_mtime_ns))
    return tuple(marker)


def _read_inside(artifact_uri: str, path: str, folder: Path, cap: int) -> str:
    """At most `cap` bytes of the artifact `path` under a local `artifact_uri`, when it is a regular file
    inside `folder` once every link is resolved ("" otherwise: the grader reads nothing else)."""
    parts = urlsplit(artifact_uri)
    if parts.scheme not in ("", "file"):
        return ""
    local = (Path(unquote(parts.path)) / path).resolve()
    if not local.is_relative_to(folder.resolve()) or not local.is_file():
        return ""
    with local.open("rb") as file:
        return file.read(cap).decode("utf-8", errors="replace")


class _Snapshots:
    """The process's snapshot files, one per team database, in a folder removed when the process ends."""

    def __init__(self):
        self._folder: tempfile.TemporaryDirectory | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def refreshed(self, db: Path) -> Path:
        """The snapshot of `db`, copied anew: a consistent copy, read without writing to `db`. The copy
        is written in place (never replaced: MLflow's open connections would go on reading the old file);
        sqlite's backup is one transaction, so a failed copy raises and leaves the last one whole."""
        name = sha256(str(db.resolve()).encode()).hexdigest()[:16]
        with self._lock:
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="wth-grader-snapshots-")
            lock = self._locks.setdefault(name, threading.Lock())
        copy = Path(self._folder.name) / f"{name}.db"
        with lock, sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as source, \
                sqlite3.connect(copy, timeout=5) as target:
            source.backup(target)
        return copy


snapshots = _Snapshots()


def tracking_uri(ref: WorkspaceRef, azure_resolver=None) -> str:
    """The URI MLflow reads the team's store through: a fresh snapshot's for a local store."""
    if ref.kind in ("folder", "sqlite"):
        return f"sqlite:///{snapshots.refreshed(_sqlite_file(ref))}"
    if ref.kind == "azureml":
        from .azureml import tracking_uri as azure_tracking_uri

        return (azure_resolver or azure_tracking_uri)(ref.azureml)
    return ref.location


class MlflowProbe:
    def __init__(self, ref: WorkspaceRef, experiment: str, model: str):
        self.ref, self.experiment, self.model = ref, experiment, model
        if ref.kind == "uri":  # a team's own server (an Azure ML workspace's is Microsoft's, signed in as Azure wants)
            guard()
            if ref.token_env:
                TOKENS[_origin(ref.tracking_uri)] = ref.token_env

    @cached_property
    def client(self) -> MlflowClient:
        uri = tracking_uri(self.ref)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
        except MlflowException as err:
            raise NotGradable(f"cannot reach the MLflow workspace {self.ref.location}: {str(err).splitlines()[0][:200]}") from None
        return client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MlflowException as err:
            raise NotGradable(f"MLflow {what} failed: {str(err).splitlines()[0][:200]}") from None

    @cached_property
    def experiments(self) -> list:
        return self._call("search_experiments", self.client.search_experiments, view_type=ViewType.ACTIVE_ONLY)

    @cached_property
    def runs(self) -> list[Run]:
        """Every active run of every experiment, newest first (teams may rename their experiment)."""
        ids = [e.experiment_id for e in self.experiments]
        if not ids:
            return []
        return self._call("search_runs", self.client.search_runs, ids, max_results=MAX_RUNS,
                          order_by=["attributes.start_time DESC"])

    def run(self, run_id: str) -> Run | None:
        for run in self.runs:
            if run.info.run_id == run_id:
                return run
        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    def experiment_name(self, experiment_id: str) -> str:
        return next((e.name for e in self.experiments if e.experiment_id == experiment_id), experiment_id)

    def pipeline_runs(self, name: str) -> list[Run]:
        return [r for r in self.runs if r.data.tags.get(PIPELINE_TAG) == name]

    def children(self, parent_id: str) -> list[Run]:
        return [r for r in self.runs if r.data.tags.get("mlflow.parentRunId") == parent_id]

    @cached_property
    def versions(self) -> list[ModelVersion]:
        """Registered versions of the team's model, newest first."""
        found = self._call("search_model_versions", self.client.search_model_versions, f"name = '{self.model}'")
        return sorted(found, key=lambda v: int(v.version), reverse=True)

    @cached_property
    def registered_models(self) -> list[str]:
        return [m.name for m in self._call("search_registered_models", self.client.search_registered_models)]

    @cached_property
    def champion(self) -> ModelVersion | None:
        """The version carrying the champion tag, read as the solution reads it (`wth.registry`)."""
        return registry.champion(self.versions)

    def version(self, number: str) -> ModelVersion | None:
        return next((v for v in self.versions if str(v.version) == str(number)), None)

    def artifact_files(self, run_id: str, path: str | None = None) -> list:
        """MLflow FileInfos (path, is_dir, file_size) under `path` of a run (one level)."""
        try:
            return self.client.list_artifacts(run_id, path)
        except (MlflowException, OSError) as err:
            raise NotGradable(f"cannot list the artifacts of run {run_id}: {str(err).splitlines()[0][:200]}") from None

    def artifact_text(self, run_id: str, path: str, cap: int) -> str:
        """The text of one artifact file, at most `cap` bytes of it. In a local store only a regular file
        inside the team's workspace folder is read, in place: a run's artifact location is the team's word
        and may name any file of the grading machine (links are resolved first)."""
        try:
            if self.ref.kind in ("folder", "sqlite"):
                return _read_inside(self.client.get_run(run_id).info.artifact_uri, path, _sqlite_file(self.ref).parent, cap)
            with tempfile.TemporaryDirectory(prefix="wth-grader-artifact-") as scratch:
                local = Path(self.client.download_artifacts(run_id, path, scratch))
                with local.open("rb") as file:
                    return file.read(cap).decode("utf-8", errors="replace")
        except (MlflowException, OSError, WorkspaceMissing) as err:
            raise NotGradable(f"cannot read {path} of run {run_id}: {str(err).splitlines()[0][:200]}") from None

    def artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        return [a.path for a in self.artifact_files(run_id, path)]

    def logged_models(self, run: Run) -> list[str]:
        """Names of the models a run logged: MLflow 3 LoggedModels, else an `MLmodel` artifact folder."""
        names = []
        try:
            found = self.client.search_logged_models(
                experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
            names = [m.name for m in found]
        except (MlflowException, AttributeError):
            pass
        if not names:
            for path in self.artifacts(run.info.run_id):
                if "MLmodel" in [Path(p).name for p in self.artifacts(run.info.run_id, path)]:
                    names.append(path)
        return names
