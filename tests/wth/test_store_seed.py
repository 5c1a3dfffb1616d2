"""A new local workspace's MLflow store is a copy of one empty store made per MLflow version (real
MLflow stores, a real cache folder under tmp_path)."""

from __future__ import annotations

import sqlite3

import mlflow
import mlflow.store.db.utils
import pytest

from solution import workspace
from wth import store_seed


@pytest.fixture
def migrations(monkeypatch, tmp_path) -> list[str]:
    """The cache in tmp_path, and the stores MLflow had to build from its migrations (by engine URL)."""
    monkeypatch.setattr(store_seed, "cache_folder", lambda: tmp_path / "cache")
    built, migrate = [], mlflow.store.db.utils._initialize_tables

    def counted(engine):
        built.append(str(engine.url))
        migrate(engine)

    monkeypatch.setattr(mlflow.store.db.utils, "_initialize_tables", counted)
    return built


def test_workspaces_copy_one_seed_and_keep_their_artifacts_at_home(tmp_path, migrations):
    first, second = workspace.resolve(tmp_path / "a"), workspace.resolve(tmp_path / "b")
    first.activate()
    assert len(migrations) == 1 and "cache" in migrations[0]  # the seed, once
    second.activate()
    assert len(migrations) == 1, "the second workspace ran MLflow's migrations again"
    with mlflow.start_run():
        mlflow.log_metric("mase", 0.9)
        mlflow.log_text("hello", "note.txt")
    (run,) = second.client.search_runs([second.client.get_experiment_by_name(second.experiment).experiment_id])
    assert run.data.metrics == {"mase": 0.9}
    assert (second.root / "artifacts").resolve().as_uri() in run.info.artifact_uri
    default = second.client.get_experiment("0")
    assert default.artifact_location == (second.root / "artifacts" / "0").resolve().as_uri()
    assert first.client.get_experiment("0").artifact_location == (first.root / "artifacts" / "0").resolve().as_uri()


def test_an_existing_store_is_left_as_it_is(tmp_path, migrations):
    ws = workspace.resolve(tmp_path / "ws")
    ws.activate()
    with mlflow.start_run() as kept:
        pass
    store_seed.create(ws.root / "mlflow.db", ws.root / "artifacts")
    assert ws.client.get_run(kept.info.run_id).info.status == "FINISHED"


def test_where_the_cache_cannot_be_written_mlflow_builds_the_store(tmp_path, monkeypatch, migrations):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(store_seed, "cache_folder", lambda: blocked / "wth")
    ws = workspace.resolve(tmp_path / "ws")
    ws.activate()
    assert migrations == [f"sqlite:///{ws.root / 'mlflow.db'}"]
    assert ws.client.get_experiment_by_name(ws.experiment) is not None
    assert list(ws.root.glob("*.part")) == []


def test_a_store_another_process_made_while_this_one_copied_is_kept(tmp_path, migrations, monkeypatch):
    """Two processes (a CI runner and its step) open a new workspace at once: the copy that comes
    second is dropped, never put over the store the first has begun to write."""
    db, connect = tmp_path / "mlflow.db", sqlite3.connect

    def connect_while_another_process_writes(path):  # this process edits its copy; the other places its store
        db.write_bytes(b"the other process's store")
        return connect(path)

    monkeypatch.setattr(store_seed.sqlite3, "connect", connect_while_another_process_writes)
    store_seed.create(db, tmp_path / "artifacts")
    assert db.read_bytes() == b"the other process's store"
    assert list(tmp_path.glob("*.part")) == []
