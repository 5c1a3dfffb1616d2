"""Our MLflow workspace (Challenge 00): `.wth/` with its sqlite store, the experiment, the registry, the
champion tag, and pipeline runs with one child run per step.

In a CI run the workspace is $WTH_WORKSPACE (the steps run in a copy of the repository, not in it),
and every pipeline run carries the CI run's number and commit: build_id and git_commit."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import mlflow
from mlflow import MlflowClient

WORKSPACE = Path(os.environ.get("WTH_WORKSPACE") or ".wth").resolve()
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
    client.set_model_version_tag(MODEL, version, CHAMPION, datetime.now(UTC).isoformat())
    for old in versions(client):
        if CHAMPION in old.tags and str(old.version) != str(version):
            client.delete_model_version_tag(MODEL, old.version, CHAMPION)


def ci_tags() -> dict[str, str]:
    """The CI run that runs us, if one does: GitHub Actions (and the offline CI) or Azure DevOps."""
    tags = {"build_id": os.environ.get("GITHUB_RUN_ID") or os.environ.get("BUILD_BUILDID"),
            "git_commit": os.environ.get("GITHUB_SHA") or os.environ.get("BUILD_SOURCEVERSION")}
    return {name: value for name, value in tags.items() if value}


@contextmanager
def pipeline(name: str, **tags: str):
    with mlflow.start_run(run_name=name, tags={"wth.pipeline": name, **ci_tags(), **tags}) as run:
        yield run


@contextmanager
def step(name: str):
    with mlflow.start_run(run_name=name, nested=True, tags={"wth.step": name}) as run:
        yield run
