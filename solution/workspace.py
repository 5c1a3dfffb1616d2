"""The workspace: an MLflow tracking store and model registry, plus the solution's own files.

Locally a workspace is a folder (`.wth/` by default) holding `mlflow.db` (sqlite), `artifacts/`,
`data/` and `endpoint/`. `--workspace` also accepts any MLflow tracking URI (an MLflow server, or
the one an Azure ML workspace exposes); the local folder then only holds data and endpoint state.
MLflow (2 s to import) is imported where it is used: the endpoint commands need only the folder.

Pipeline runs follow docs/contracts.md: a parent run tagged `wth.pipeline=<name>` with one child run per
step tagged `wth.step=<step>`; the run status is the pipeline status.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wth import processes, registry, settings, store, store_seed, ui
from wth.config import CHAMPION, EXPERIMENT, MODEL_NAME
from wth.errors import UsageError
from wth.workspace_contract import BUILD_ID, GIT_COMMIT, PIPELINE_RUN_TAG, PIPELINE_TAG, STEP_TAG

if TYPE_CHECKING:
    import mlflow
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

logging.getLogger("alembic").setLevel(logging.WARNING)
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass
class Workspace:
    root: Path  # local folder: data, endpoint state (and the MLflow store when local)
    tracking_uri: str
    experiment: str = EXPERIMENT
    model_name: str = MODEL_NAME

    @property
    def client(self) -> MlflowClient:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    @property
    def is_local(self) -> bool:
        return store.is_local(self.tracking_uri)

    def activate(self) -> str:
        """Point MLflow's fluent API at this workspace and return the experiment id."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        if self.is_local:
            self.root.mkdir(parents=True, exist_ok=True)
            store_seed.create(Path(self.tracking_uri.removeprefix("sqlite:///")), self.root / store.ARTIFACTS)
        existing = self.client.get_experiment_by_name(self.experiment)
        if existing is not None:
            experiment_id = existing.experiment_id
        else:
            location = (self.root / store.ARTIFACTS).resolve().as_uri() if self.is_local else None
            experiment_id = self.client.create_experiment(self.experiment, artifact_location=location)
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id


AZUREML = "azureml"  # `--workspace azureml`: the Azure ML workspace named by the AZURE_* variables or config.json


def resolve(workspace: str | os.PathLike | None = None) -> Workspace:
    """`--workspace` value, else $WTH_WORKSPACE, else `.wth` in the current folder.

    `azureml` is the Azure ML workspace that `solution.azure_workspace.resolve()` names (`AZURE_*`, else config.json):
    MLflow is pointed at the tracking URI that `azure-ai-ml` reports for it
    (`MLClient.workspaces.get(name).mlflow_tracking_uri`; the `azure` extra). An `azureml://` URI
    resolved another way, e.g. with azureml-core's `Workspace.get_mlflow_tracking_uri()`, works as is."""
    value = str(workspace or settings.WORKSPACE.get())
    if value == AZUREML:
        from . import azure_workspace

        value = azure_workspace.tracking_uri(azure_workspace.resolve())
    tracking_uri, root = store.locate(value)
    if not store.is_uri(value) and root.exists() and not root.is_dir():
        raise UsageError(f"workspace {root} is a file, not a folder")
    return Workspace(root=root, tracking_uri=tracking_uri)


REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The solution's own checkout's commit, for a pipeline run outside CI (CI names the commit it built)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def fail_orphaned_runs(ws: Workspace, experiment_id: str) -> list[str]:
    """Mark RUNNING runs whose process is gone (killed mid-way) as FAILED; return their ids."""
    from mlflow.entities import RunStatus

    client, orphans = ws.client, []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'"):
        pid = run.data.tags.get("wth.pid")
        if pid and pid.isdigit() and int(pid) != os.getpid() and not processes.alive(int(pid)):
            client.set_tag(run.info.run_id, "wth.failure", "process ended before the run finished")
            client.set_terminated(run.info.run_id, status=RunStatus.to_string(RunStatus.FAILED))
            orphans.append(run.info.run_id)
    return orphans


@contextmanager
def _run(**start: object) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run that ends FAILED, with the reason tagged, when its body raises (and re-raises)."""
    import mlflow
    from mlflow.entities import RunStatus

    with mlflow.start_run(**start) as run:
        try:
            yield run
        except BaseException as err:
            mlflow.set_tag("wth.failure", f"{type(err).__name__}: {err}"[:500])
            mlflow.end_run(status=RunStatus.to_string(RunStatus.FAILED))
            raise


@contextmanager
def pipeline_run(ws: Workspace, name: str, **tags: str) -> Iterator[mlflow.ActiveRun]:
    """A parent run for pipeline `name`; FAILED (and re-raised) if anything inside raises."""
    experiment_id = ws.activate()
    fail_orphaned_runs(ws, experiment_id)
    run_tags = {PIPELINE_TAG: name, "wth.pid": str(os.getpid()), **tags}
    commit = os.environ.get("GITHUB_SHA") or os.environ.get("BUILD_SOURCEVERSION") or git_commit()
    if commit:
        run_tags[GIT_COMMIT] = commit
    build_id = os.environ.get("BUILD_BUILDID") or os.environ.get("GITHUB_RUN_ID")
    if build_id:
        run_tags[BUILD_ID] = build_id
    with _run(run_name=f"{name} pipeline", tags=run_tags) as run:
        yield run


@contextmanager
def step(name: str, **tags: str) -> Iterator[mlflow.ActiveRun]:
    """A child run of the active pipeline run for one step; FAILED if it raises."""
    import mlflow

    parent = mlflow.active_run()
    run_tags = {STEP_TAG: name, "wth.pid": str(os.getpid()), **tags}
    if parent is not None:
        run_tags[PIPELINE_RUN_TAG] = parent.info.run_id
        run_tags.update({k: v for k, v in parent.data.tags.items() if k in (GIT_COMMIT, BUILD_ID)})
    with _run(run_name=name, nested=parent is not None, tags=run_tags) as run:
        yield run


def _versions(ws: Workspace) -> list[ModelVersion]:
    return ws.client.search_model_versions(f"name = '{ws.model_name}'")


def champion(ws: Workspace) -> ModelVersion | None:
    """The version carrying the champion tag (`wth.registry`: the mark on every registry), or None."""
    from mlflow.exceptions import MlflowException

    try:
        return registry.champion(_versions(ws))
    except MlflowException:
        return None


def model_version(ws: Workspace, version: str | int | None = None, alias: str | None = None) -> ModelVersion:
    """A registered version by number or alias (default: the champion); `UsageError` if absent."""
    from mlflow.exceptions import MlflowException

    try:
        if version is not None:
            return ws.client.get_model_version(ws.model_name, str(version))
        if alias in (None, CHAMPION):
            found = champion(ws)
            if found is None:
                raise UsageError(f"model {ws.model_name!r} has no champion (no version carries the tag "
                                 f"{CHAMPION!r}) in {ws.tracking_uri}")
            return found
        return ws.client.get_model_version_by_alias(ws.model_name, alias)
    except MlflowException:
        what = f"version {version}" if version is not None else f"alias {alias!r}"
        raise UsageError(f"model {ws.model_name!r} has no {what} in {ws.tracking_uri}") from None


def register(ws: Workspace, model_uri: str, tags: dict[str, str]) -> ModelVersion:
    """Register a logged model under the workspace's model name, with its lineage tags."""
    import mlflow

    ws.activate()
    return mlflow.register_model(model_uri, ws.model_name, tags={k: str(v) for k, v in tags.items()})


def set_champion(ws: Workspace, version: str) -> None:
    """Mark `version` as the champion: tag it (the switch), then untag the versions marked before.

    The MLflow alias of the same name follows where the registry takes aliases (a convenience for
    `models:/<name>@champion`); Azure ML's MLflow registry does not document them, so a refusal there
    is not an error."""
    from mlflow.exceptions import MlflowException

    client = ws.client
    client.set_model_version_tag(ws.model_name, str(version), CHAMPION, registry.stamp())
    for old in registry.others(_versions(ws), keep=str(version)):
        client.delete_model_version_tag(ws.model_name, str(old.version), CHAMPION)
    try:
        client.set_registered_model_alias(ws.model_name, CHAMPION, str(version))
    except (MlflowException, NotImplementedError):
        pass


def serve_ui(ws: Workspace, port: int | None = None) -> int:
    """Open the MLflow UI on the workspace (foreground; Ctrl+C or a stop request stops it with its tree)."""
    if not ws.is_local:
        raise UsageError(f"{ws.tracking_uri} is a remote workspace: open its own UI instead")
    return ui.serve(ws.root, port=port or ui.PORT)
