"""The release pipeline: deploy the champion and smoke-test the endpoint, recorded as a pipeline run."""

from __future__ import annotations

from collections.abc import Callable

from . import keys, rollout
from .record import Endpoint

Progress = Callable[[str], None]


def key_of(ws, current: Endpoint) -> str | None:
    """The key a client of the workspace's own endpoint sends (None without key auth)."""
    return keys.ensure(ws)["primary"] if current.auth_mode == "key" else None


def release_pipeline(ws, port: int | None = None, progress: Progress = rollout._quiet) -> Endpoint:
    import mlflow

    from wth import smoke
    from wth.workspace_contract import RELEASE_PIPELINE, RELEASED_VERSION, SCORING_URI, SMOKE_TEST_STEP

    from .. import workspace

    mv = workspace.model_version(ws)
    with workspace.pipeline_run(ws, RELEASE_PIPELINE, **{RELEASED_VERSION: str(mv.version)}) as parent:
        with workspace.step("deploy"):
            current = rollout.deploy(ws, alias=None, version=mv.version, port=port, progress=progress)
            mlflow.set_tags({RELEASED_VERSION: current.model_version, SCORING_URI: current.scoring_uri})
        mlflow.set_tag(SCORING_URI, current.scoring_uri)
        with workspace.step(SMOKE_TEST_STEP):
            failures = smoke.check(current.scoring_uri, expected_version=str(mv.version),
                                   expected_train_end=mv.tags.get("train_end"), key=key_of(ws, current))
            mlflow.log_metrics({"checks_failed": len(failures)})
            smoke.report(current.scoring_uri, failures, progress)
        progress(f"release run {parent.info.run_id}: version {mv.version} live at {current.scoring_uri}")
    return current
