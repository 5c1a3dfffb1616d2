"""A new local MLflow store starts as a copy of an empty one, made once per MLflow version in the user's
cache folder.

MLflow builds a new sqlite store by running every schema migration it has: 1.5 s on a laptop, paid by
each new workspace (and by each test that makes one); a copy takes milliseconds. Only the copy's Default
experiment is changed: its artifacts go under the workspace, not under the folder the seed was made in.
Where the cache cannot be written, MLflow creates the store as it always does.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import platformdirs


def cache_folder() -> Path:
    return platformdirs.user_cache_path("wth", appauthor=False)


def _seed() -> Path | None:
    """The empty store of this MLflow version, made on first use; None where it cannot be."""
    seed = cache_folder() / f"mlflow-{version('mlflow')}-empty.db"
    if seed.is_file():
        return seed
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    try:
        seed.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=seed.parent) as scratch:
            made = Path(scratch) / "empty.db"
            SqlAlchemyStore(f"sqlite:///{made.as_posix()}", Path(scratch).as_uri()).engine.dispose()
            if not seed.is_file():  # another process may have made it meanwhile: both copies are equal
                os.replace(made, seed)
    except OSError:
        return seed if seed.is_file() else None
    return seed


def create(db: Path, artifacts: Path) -> None:
    """Make `db` an empty MLflow store whose Default experiment keeps its artifacts in `artifacts/0`,
    unless it exists (or the seed cannot be made: MLflow then creates it on first use)."""
    if db.exists():  # every activation of a workspace asks: answer before looking for the seed
        return
    seed = _seed()
    if seed is None:
        return
    part = db.with_name(f"{db.name}.{os.getpid()}.part")
    try:
        part.write_bytes(seed.read_bytes())
        with closing(sqlite3.connect(part)) as connection, connection:
            connection.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                               ((artifacts / "0").resolve().as_uri(),))
        try:  # a link is made only where no file is: a store another process made meanwhile, and wrote, stays
            os.link(part, db)
        except OSError:  # that store; or a filesystem without links, where MLflow makes the store itself
            pass
    finally:
        part.unlink(missing_ok=True)
