"""Our MLflow workspace (Challenge 00): `.wth/` with its sqlite store, the experiment, the registry, the
champion tag, and pipeline runs with one child run per step."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import mlflow
from mlflow import MlflowClient

WORKSPACE = Path(".wth")
EXPERIMENT, MODEL, CHAMPION = "wth-mlops", "transactions-forecast", "champion"


def connect() -> MlflowClient:
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{WORKSPACE}/mlflow.db"))
    mlflow.set_experiment(EXPERIMENT)
    return MlflowClient()


def versions(client: MlflowClient) -> list:
    return client.search_model_versions(f"name='{MODEL}'")


def champion(client: MlflowClient):
    """The version tagged champion (the latest tag wins), or None."""
    marked = [v for v in versions(client) if CHAMPION in v.tags]
    return max(marked, key=lambda v: (v.tags[CHAMPION], int(v.version)), default=None)


def promote(client: MlflowClient, version: str) -> None:
    """Tag the new champion first, then untag the old one: never a moment without a champion."""
    client.set_model_version_tag(MODEL, version, CHAMPION, datetime.now(timezone.utc).isoformat())
    for old in versions(client):
        if CHAMPION in old.tags and str(old.version) != str(version):
            client.delete_model_version_tag(MODEL, old.version, CHAMPION)


@contextmanager
def pipeline(name: str, **tags: str):
    with mlflow.start_run(run_name=name, tags={"wth.pipeline": name, **tags}) as run:
        yield run


@contextmanager
def step(name: str):
    with mlflow.start_run(run_name=name, nested=True, tags={"wth.step": name}) as run:
        yield run
