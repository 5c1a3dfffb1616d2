"""Where a workspace keeps its MLflow store: a local folder's file names, or a tracking URI.

A local workspace is a folder holding the sqlite store `mlflow.db` and the artifacts under
`artifacts/`; a workspace given as a tracking URI (an MLflow server, Azure ML) keeps its local state
(logs, endpoint records) in `$WTH_LOCAL_STATE`.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import settings, store_seed

DB_FILE = "mlflow.db"
ARTIFACTS = "artifacts"


def is_uri(workspace: str | os.PathLike) -> bool:
    """Whether a workspace is given as an MLflow tracking URI (a `file:` URI is a folder)."""
    value = str(workspace)
    return "://" in value and not value.startswith("file:")


def locate(workspace: str | os.PathLike) -> tuple[str, Path]:
    """(the MLflow tracking URI, the local state folder) of a workspace given as a folder or a URI."""
    value = str(workspace)
    if is_uri(value):
        return value, Path(settings.LOCAL_STATE.get()).resolve()
    root = Path(value.removeprefix("file://")).resolve()
    return f"sqlite:///{root / DB_FILE}", root


def is_local(tracking_uri: str) -> bool:
    return tracking_uri.startswith("sqlite:")


def prepare(tracking_uri: str, state: Path) -> None:
    """A local store's folder, and the store itself as a copy of an empty one (`store_seed`)."""
    if is_local(tracking_uri):
        state.mkdir(parents=True, exist_ok=True)
        store_seed.create(state / DB_FILE, state / ARTIFACTS)


def artifact_location(tracking_uri: str, state: Path) -> str | None:
    """Where a new experiment of a local store keeps its artifacts (None: the server decides)."""
    return (state / ARTIFACTS).resolve().as_uri() if is_local(tracking_uri) else None
