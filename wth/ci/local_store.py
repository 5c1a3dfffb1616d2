"""A local workspace's CI records, read and their tags written with the standard library's sqlite3,
straight from MLflow's own tables (its schema: mlflow/store/tracking/dbmodels/models.py).

Why not MLflow's client: importing MLflow and opening its store through SQLAlchemy cost ~4 s of CPU
(~2.5 s the import alone), paid by every `wth ci watch`, `runs`, `log`, `gate` and `approve`, commands
that only read a record or write one tag. The queries below do what MlflowClient's `search_runs` and
`set_tag` do on a sqlite store; tests/ci/test_ci_local_store.py holds them to it on a real store, and
fails first when MLflow changes its schema.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse
from urllib.request import url2pathname

from ..errors import UsageError

ACTIVE = "active"  # MLflow's LifecycleStage.ACTIVE: a run or experiment not deleted
BUSY_TIMEOUT_S = 20.0  # how long a statement waits for another writer's lock: MLflow's own sessions wait 20 s
EXPERIMENTS, RUNS, TAGS = "experiments", "runs", "tags"  # MLflow's tables

_ORDER = "start_time IS NULL, start_time DESC"  # search_runs' order: newest start first, then by run id
_RUNS = f"""
WITH chosen AS (
    SELECT run_uuid, start_time, end_time FROM {RUNS}
    WHERE lifecycle_stage = '{ACTIVE}' AND experiment_id IN (SELECT experiment_id FROM {EXPERIMENTS} WHERE name = ?)
    ORDER BY {_ORDER}, run_uuid LIMIT ?)
SELECT chosen.run_uuid, start_time, end_time, key, value FROM chosen LEFT JOIN {TAGS} ON {TAGS}.run_uuid = chosen.run_uuid
ORDER BY {_ORDER}, chosen.run_uuid"""
_UPSERT = f"INSERT INTO {TAGS} (key, value, run_uuid) VALUES (?, ?, ?) ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value"


class StoredRun(NamedTuple):
    """A run as both readers give it: MLflow's client (`records.Records.searched`) and `runs` here."""

    run_id: str
    tags: dict[str, str]
    start_ms: int | None
    end_ms: int | None


def runs(db: Path, experiment: str, limit: int) -> list[StoredRun]:
    """The active runs of `experiment` with their tags, in search_runs' order (newest start first, then run
    id). One statement: one consistent snapshot."""
    found: dict[str, StoredRun] = {}
    for run_id, start, end, key, value in _read(db, _RUNS, (experiment, limit)):
        run = found.setdefault(run_id, StoredRun(run_id, {}, start, end))
        if key is not None:
            run.tags[key] = value
    return list(found.values())


def artifact_uri(db: Path, run_id: str) -> str | None:
    """Where run `run_id` keeps its artifacts; None for a run not in the store."""
    rows = _read(db, f"SELECT artifact_uri FROM {RUNS} WHERE run_uuid = ?", (run_id,))
    return rows[0][0] if rows else None


def local_path(uri: str) -> Path | None:
    """The folder an artifact URI names on this machine (a `file:` URI or a plain path), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(url2pathname(parsed.path))
    if len(parsed.scheme) <= 1:  # a path, a Windows one included (its drive letter parses as a scheme)
        return Path(uri)
    return None


def set_tags(db: Path, run_id: str, tags: dict[str, str]) -> None:
    """MlflowClient.set_tag's write for each tag, all in one transaction: the run must be in the store and
    active (a deleted run is refused, as MLflow refuses it), each tag the row (key, run) of the table `tags`,
    inserted or replaced, under MLflow's constraints (the primary key, the foreign key to the run). The
    keys are ours (`records.PREFIX`: none is MLflow's run name, which set_tag also copies to the run), the
    values within MLflow's limit (`records.TAG_MAX`). A locked store is waited for (`BUSY_TIMEOUT_S`)."""
    with closing(_connect(db, read_only=False)) as con:
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("BEGIN IMMEDIATE")  # the write lock first: nothing changes the run between the check and the write
        row = con.execute(f"SELECT lifecycle_stage FROM {RUNS} WHERE run_uuid = ?", (run_id,)).fetchone()
        if row is None or row[0] != ACTIVE:
            raise UsageError(f"run {run_id} is {'not in' if row is None else row[0] + ' from'} the store {db}: "
                             "its record cannot change")
        con.executemany(_UPSERT, [(key, value, run_id) for key, value in tags.items()])
        con.execute("COMMIT")  # not reached on an error: closing the connection rolls the transaction back


def _read(db: Path, query: str, parameters: tuple) -> list[tuple]:
    """The rows of one query, on a read-only connection; none while the store has no file or no tables yet.
    A writer killed mid-transaction leaves its journal, which only a writer may roll back
    (SQLITE_READONLY_ROLLBACK): then the query runs on a read-write connection, which rolls it back first,
    as the next MLflow connection would."""
    if not db.is_file():
        return []
    try:
        return _rows(db, query, parameters, read_only=True)
    except sqlite3.OperationalError as err:
        if err.sqlite_errorname != "SQLITE_READONLY_ROLLBACK":
            raise
    return _rows(db, query, parameters, read_only=False)


def _rows(db: Path, query: str, parameters: tuple, read_only: bool) -> list[tuple]:
    with closing(_connect(db, read_only)) as con:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return con.execute(query, parameters).fetchall() if tables.issuperset((EXPERIMENTS, RUNS, TAGS)) else []


def _connect(db: Path, read_only: bool) -> sqlite3.Connection:
    """A connection to the existing store (never one made here); statements run as written (no implicit
    transaction)."""
    return sqlite3.connect(f"{db.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}", uri=True,
                           timeout=BUSY_TIMEOUT_S, isolation_level=None)
