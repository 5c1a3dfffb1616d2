"""CI runs, recorded where the team and the grader read them: as MLflow runs of the workspace's
experiment `wth-ci` (`CI_EXPERIMENT`), one per CI run.

A record carries the run number (unique per repository: its origin counts them), the workflow file,
the event, the commit, the status (queued, in_progress, waiting, completed) and conclusion (success,
failure, cancelled), each job's and step's result, the approvals given, and the capped log as the
artifact `ci/log.txt`; MLflow keeps the start and end times. The MLflow runs a CI run's steps make
carry its number and commit (`build_id`, `git_commit`), which is how a registered version names the
build that made it. While a run goes, its log grows in `<state>/ci/runs/<number>/log.txt`.

A local workspace's records are read, and their tags written, with sqlite3 (`local_store`), not MLflow:
MLflow's import alone costs ~2.5 s of CPU, and opening its store ~1.5 s more, on every `wth ci` command
that reads or tags a record. The runner creates a record, stores its log and ends it with MLflow's client,
which is also what reads and writes the records of a tracking URI (an MLflow server, Azure ML).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import processes, store
from ..config import CI_EXPERIMENT
from ..errors import UsageError
from . import local_store
from .local_store import StoredRun

if TYPE_CHECKING:
    from mlflow.entities import Run

PREFIX = "wth.ci."
NUMBER, WORKFLOW, WORKFLOW_NAME, EVENT, SHA, REF, STATUS, CONCLUSION, JOBS, INPUTS, APPROVALS, REASON, RUNNER = (
    PREFIX + name for name in ("number", "workflow", "workflow_name", "event", "sha", "ref", "status", "conclusion",
                               "jobs", "inputs", "approvals", "reason", "runner"))
WAITING_FOR = PREFIX + "waiting_for"
for _name in ("mlflow.store.db.utils", "alembic"):  # a new store's migrations say so on every push otherwise
    logging.getLogger(_name).setLevel(logging.WARNING)
LOG_ARTIFACT = "ci/log.txt"
REQUEST = "request.json"  # beside a run's live log: what to run, until its runner has recorded it
TAG_MAX = 5000  # MLflow's limit on a tag's value (characters)


@dataclass
class Record:
    run_id: str
    number: int
    workflow: str
    workflow_name: str
    event: str
    sha: str
    ref: str
    status: str
    conclusion: str | None
    jobs: dict
    inputs: dict
    approvals: list
    reason: str
    started: float | None  # seconds since the epoch
    ended: float | None
    waiting_for: str | None = None

    @property
    def state(self) -> str:
        """What `wth ci runs` shows: the conclusion once completed, else the status."""
        return self.conclusion or self.status

    def approved(self, environment: str) -> dict | None:
        return next((a for a in reversed(self.approvals) if a.get("environment") == environment), None)

    @classmethod
    def of(cls, run: Run) -> Record:
        """The record an MLflow run holds."""
        return cls.stored(_stored(run))

    @classmethod
    def stored(cls, run: StoredRun) -> Record:
        """The record a run holds, as either reader gives it (MLflow's client or `local_store`)."""
        tags = run.tags

        def loaded(name: str, empty):
            try:
                value = json.loads(tags.get(name) or "null")
            except ValueError:
                return empty
            return value if isinstance(value, type(empty)) else empty

        number = tags.get(NUMBER, "")
        return cls(run.run_id, int(number) if number.isdigit() else 0, tags.get(WORKFLOW, ""),
                   tags.get(WORKFLOW_NAME, ""), tags.get(EVENT, ""), tags.get(SHA, ""), tags.get(REF, ""),
                   tags.get(STATUS, ""), tags.get(CONCLUSION) or None, loaded(JOBS, {}), loaded(INPUTS, {}),
                   loaded(APPROVALS, []), tags.get(REASON, ""), run.start_ms / 1000 if run.start_ms else None,
                   run.end_ms / 1000 if run.end_ms else None, tags.get(WAITING_FOR) or None)


def _stored(run: Run) -> StoredRun:
    return StoredRun(run.info.run_id, dict(run.data.tags), run.info.start_time, run.info.end_time)


def queued(request: dict, since: float | None) -> Record:
    """A run its runner has not recorded yet, from the request `queue` wrote."""
    return Record("", int(request["number"]), request["workflow"], request["workflow_name"], request["event"],
                  request["sha"], request["ref"], "queued", None, {}, dict(request.get("inputs") or {}), [], "",
                  since, None)


def compact(value) -> str:
    """JSON within MLflow's tag limit: a jobs map too long for it loses its steps (the log keeps them)."""
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > TAG_MAX and isinstance(value, dict):
        text = json.dumps({k: {"result": v.get("result")} for k, v in value.items()}, separators=(",", ":"))
    return text[:TAG_MAX]


class Records:
    """The CI records of one workspace: a local folder (its MLflow store) or an MLflow tracking URI."""

    def __init__(self, workspace: str | os.PathLike):
        self.tracking_uri, self.state = store.locate(workspace)
        self.logs = self.state / "ci" / "runs"
        self.db = None if store.is_uri(workspace) else self.state / store.DB_FILE  # None: MLflow's client reads

    @property
    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)

    def _experiment_id(self, create: bool) -> str | None:
        if create:
            store.prepare(self.tracking_uri, self.state)
        client = self.client
        found = client.get_experiment_by_name(CI_EXPERIMENT)
        if found is not None:
            return found.experiment_id
        if not create:
            return None
        return client.create_experiment(CI_EXPERIMENT, artifact_location=store.artifact_location(self.tracking_uri, self.state))

    def create(self, number: int, workflow: str, workflow_name: str, event: str, sha: str, ref: str,
               inputs: dict[str, str]) -> Record:
        experiment_id = self._experiment_id(create=True)
        tags = {NUMBER: str(number), WORKFLOW: workflow, WORKFLOW_NAME: workflow_name, EVENT: event, SHA: sha,
                REF: ref, STATUS: "queued", INPUTS: compact(inputs), APPROVALS: "[]",
                "mlflow.runName": f"{workflow_name} #{number}"}
        run = self.client.create_run(experiment_id, tags=tags, run_name=f"{workflow_name} #{number}")
        return Record.of(run)

    def set(self, record: Record, **tags: str) -> None:
        self._tag(record.run_id, {PREFIX + name: value for name, value in tags.items()})

    def _tag(self, run_id: str, tags: dict[str, str]) -> None:
        """Set `tags` on the run, each cut to MLflow's limit: on a local store with sqlite3, at once."""
        tags = {name: value[:TAG_MAX] for name, value in tags.items()}
        if self.db is not None:
            _retrying(local_store.set_tags, self.db, run_id, tags)
            return
        client = self.client
        for name, value in tags.items():
            _retrying(client.set_tag, run_id, name, value)

    def finish(self, record: Record, conclusion: str, jobs: dict, reason: str = "") -> None:
        client = self.client
        log = self.log_file(record.number)
        if log.is_file():
            _retrying(client.log_artifact, record.run_id, str(log), artifact_path=LOG_ARTIFACT.rsplit("/", 1)[0])
        self._tag(record.run_id, {CONCLUSION: conclusion, JOBS: compact(jobs), REASON: reason, WAITING_FOR: ""})
        _retrying(client.set_terminated, record.run_id, "FINISHED" if conclusion == "success" else "FAILED")
        self._tag(record.run_id, {STATUS: "completed"})  # last: a reader that sees it sees the rest

    def runs(self, limit: int) -> list[StoredRun]:
        """The runs of `CI_EXPERIMENT` not deleted, newest start first: a local store's read with sqlite3."""
        if self.db is not None:
            return local_store.runs(self.db, CI_EXPERIMENT, limit)
        return self.searched(limit)

    def searched(self, limit: int) -> list[StoredRun]:
        """The same runs through MLflow's client (its search_runs, which leaves deleted runs out)."""
        experiment_id = self._experiment_id(create=False)
        if experiment_id is None:
            return []
        return [_stored(run) for run in self.client.search_runs(
            [experiment_id], max_results=limit, order_by=["attributes.start_time DESC"])]

    def all(self, limit: int = 1000) -> list[Record]:
        """The records, newest (highest number) first, with the runs queued but not recorded yet; a run
        whose runner is gone is shown failed."""
        records = []
        for run in self.runs(limit):
            record = Record.stored(run)
            if record.status != "completed" and _runner_gone(run.tags.get(RUNNER)):
                record.status, record.conclusion, record.reason = "completed", "failure", "the runner ended mid-run"
            records.append(record)
        recorded = {r.number for r in records}
        for path, request in self.requests():
            if int(request["number"]) not in recorded:
                record = queued(request, path.stat().st_mtime)
                if _runner_gone(request.get("runner")):
                    record.status, record.conclusion, record.reason = "completed", "failure", "the runner never started"
                records.append(record)
        return sorted(records, key=lambda r: r.number, reverse=True)[:limit]

    def request_file(self, number: int) -> Path:
        return self.logs / str(number) / REQUEST

    def requests(self) -> list[tuple[Path, dict]]:
        """The run requests `queue` wrote whose runner has not finished them."""
        found = []
        for path in self.logs.glob(f"*/{REQUEST}"):
            try:
                found.append((path, json.loads(path.read_text())))
            except (OSError, ValueError):
                continue  # being written, or removed as we looked
        return found

    def get(self, number: int) -> Record:
        found = next((r for r in self.all() if r.number == number), None)
        if found is None:
            raise UsageError(f"no CI run #{number} in {self.tracking_uri} (`wth ci runs` lists them)")
        return found

    def latest(self) -> Record:
        records = self.all(limit=1)
        if not records:
            raise UsageError(f"no CI run yet in {self.tracking_uri}: push a commit (`git push`) or dispatch a workflow")
        return records[0]

    def wait(self, number: int, on_waiting=lambda record: None, poll_s: float = 1.0) -> Record:
        """Run `number` once completed; `on_waiting(record)` each time it is seen waiting for an approval."""
        while True:
            record = self.get(number)
            if record.status == "completed":
                return record
            if record.status == "waiting":
                on_waiting(record)
            time.sleep(poll_s)

    def approve(self, number: int, environment: str, approve: bool = True) -> Record:
        record = self.get(number)
        if not record.run_id:
            raise UsageError(f"CI run #{number} is queued and waits for nothing yet: approve it when `wth ci runs` "
                             "shows it waiting")
        if record.status == "completed":
            raise UsageError(f"CI run #{number} has completed ({record.conclusion}): nothing to approve")
        entry = {"environment": environment, "decision": "approved" if approve else "rejected",
                 "by": _who(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.set(record, approvals=compact([*record.approvals, entry]))
        record.approvals.append(entry)
        return record

    def log_file(self, number: int) -> Path:
        return self.logs / str(number) / LOG_ARTIFACT.rsplit("/", 1)[1]

    def log_text(self, record: Record) -> str:
        """The run's log: the live file while it is here, else the recorded artifact."""
        local = self.log_file(record.number)
        if local.is_file():
            return local.read_text(encoding="utf-8", errors="replace")
        if self.db is not None:
            uri = local_store.artifact_uri(self.db, record.run_id)
            if not uri:  # no run of the store (one still queued)
                return ""
            folder = local_store.local_path(uri)
            if folder is not None:  # the file, read where it is, as MLflow's local artifact repository reads it
                return _read(folder / LOG_ARTIFACT)
        from mlflow.exceptions import MlflowException

        try:
            path = Path(self.client.download_artifacts(record.run_id, LOG_ARTIFACT))
        except (MlflowException, OSError):
            return ""
        return _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


WRITE_TRIES = 8


def _retrying(write, *args, **kwargs):
    """A write to the store, tried again while sqlite says the database is locked: the run's own steps write
    to the same store, and a busy machine can hold a transaction past sqlite's wait. MLflow's, SQLAlchemy's
    and sqlite3's errors all say so in their message, which is what tells a lock from any other error."""
    for attempt in range(WRITE_TRIES):
        try:
            return write(*args, **kwargs)
        except Exception as err:
            if "is locked" not in str(err) or attempt == WRITE_TRIES - 1:
                raise
            time.sleep(min(2.0, 0.1 * 2 ** attempt))


def _runner_gone(runner: str | None) -> bool:
    """Whether the runner process a record names has ended (not yet named: not gone, it is starting)."""
    if not runner:
        return False
    try:
        return processes.Identity(**json.loads(runner)).process() is None
    except (ValueError, TypeError):
        return True


def _who() -> str:
    """Who approves: git's user.name where set, else the login name."""
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()
