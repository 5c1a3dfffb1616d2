"""The build pipeline (acquire -> validate -> train -> evaluate -> register) and plain training.

Input is validated before any run starts, so bad input leaves no run and no version behind; a step
that fails inside the pipeline marks the pipeline run FAILED and registers nothing, because
registration is the last step.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import mlflow
from mlflow.entities.model_registry import ModelVersion

from wth import data
from wth.config import WINDOW_END, WINDOW_START
from wth.errors import StepFailed, UsageError
from wth.workspace_contract import BUILD_PIPELINE, RELEASED_VERSION

from . import acquisition, workspace
from . import train as training
from .workspace import Workspace


def _register(ws: Workspace, trained: training.Trained, progress: Callable[[str], None]) -> ModelVersion:
    version = workspace.register(ws, trained.model_uri, training.lineage_tags(trained))
    if workspace.champion(ws) is None:
        workspace.set_champion(ws, version.version)
        progress(f"registered {ws.model_name} version {version.version} and made it the champion")
    else:
        progress(f"registered {ws.model_name} version {version.version} (the champion stays: "
                 "promotion is retraining's decision)")
    return version


def _evaluate(trained: training.Trained, progress: Callable[[str], None]) -> None:
    """Quality gate: the chosen model must beat the weekly seasonal naive on the backtest."""
    mase, snaive = trained.metrics["mase"], trained.metrics["baseline_snaive_mase"]
    mlflow.log_metrics({"mase": mase, "baseline_snaive_mase": snaive, "gate_passed": float(mase < snaive)})
    if not mase < snaive:
        raise StepFailed(f"{trained.params['model']} (MASE {mase:.3f}) does not beat the seasonal naive "
                         f"({snaive:.3f}); nothing registered")
    progress(f"evaluate: {trained.params['model']} MASE {mase:.3f} beats seasonal naive {snaive:.3f} "
             f"and legacy ARIMA {trained.metrics['legacy_arima_mase']:.3f}")


def build(ws: Workspace, source: str = "bundled", start: str = WINDOW_START, end: str = WINDOW_END,
          train_end: str | None = None, progress: Callable[[str], None] = print) -> ModelVersion:
    progress(f"reading {source} ({start}..{end})")
    loaded = acquisition.load(source, start, end)
    if train_end:
        cut = loaded.series[: data.parse_day(train_end, "--train-end")]
        if len(cut) < training.MIN_DAYS:
            raise UsageError(f"only {len(cut)} days up to --train-end {train_end}; "
                             f"the backtest needs at least {training.MIN_DAYS}")
    with workspace.pipeline_run(ws, BUILD_PIPELINE) as run:
        progress(f"build pipeline run {run.info.run_id} in {ws.tracking_uri}")
        with workspace.step("acquire"):
            acquired = acquisition.record(ws.root, loaded)
            mlflow.log_params({"source": acquired.source, "data_sha256": acquired.sha256, "rows": acquired.rows,
                               "start": acquired.start, "end": acquired.end})
            progress(f"acquire: {acquired.rows:,} rows, sha256 {acquired.sha256[:12]}, "
                     f"{acquired.days} days {acquired.start}..{acquired.end}")
        with workspace.step("validate"):
            series = training.training_series(acquired, train_end)
            mlflow.log_metrics({"days": len(series), "interpolated_days": acquired.interpolated_days,
                                "rows_in_window": acquired.rows_in_window})
        with workspace.step("train"):
            trained = training.train(series, acquired, progress)
        with workspace.step("evaluate"):
            _evaluate(trained, progress)
        with workspace.step("register"):
            version = _register(ws, trained, progress)
            mlflow.set_tags({RELEASED_VERSION: version.version, "trained_run_id": trained.run_id})
        mlflow.set_tags({RELEASED_VERSION: version.version, "model_name": ws.model_name})
    return version


def train(ws: Workspace, data_path: str | None = None, train_end: str | None = None,
          progress: Callable[[str], None] = print) -> ModelVersion:
    """Train on the latest acquired data (or acquire `data_path` first) and register the model."""
    if data_path:
        loaded = acquisition.load(data_path)
        acquired = acquisition.record(ws.root, loaded)
    else:
        acquired = acquisition.latest_acquired(ws.root)
    series = training.training_series(acquired, train_end)
    ws.activate()
    with workspace.step("train"):
        trained = training.train(series, acquired, progress)
        _evaluate(trained, progress)
        return _register(ws, trained, progress)


def _train_end(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-end", metavar="YYYY-MM-DD", help="train on the acquired data up to this day")


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `pipeline build`."""
    acquisition.add_arguments(parser)
    _train_end(parser)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `train`."""
    parser.add_argument("--data", metavar="PATH", help="acquire this file first (default: the latest acquired data)")
    _train_end(parser)
