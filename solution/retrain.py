"""Retraining (challenge 04): a challenger trained on old + new data, promoted only if it is better.

The comparison (what a coach should check a team's answer against)
------------------------------------------------------------------
The question retraining answers is "should the model serving now keep serving, or the new one?",
so the champion is evaluated **as registered**: the forecast path it serves today, for the dates
being scored. It is never refit: refitting its specification on the new data would compare two
recipes, not the two models, and would tie whenever selection picks the same model family again.

Both models are scored by the project's one protocol (`solution.evaluate.backtest`) on the **same
window**, the last FOLDS x HORIZON (4 x 7) days of old + new data, with the **same folds, the same
origins and the same per-fold MASE scale** (the seasonal naive's in-sample MAE on the days before
each origin):
- challenger: the chosen candidate refit at each origin on the days before it, exactly the backtest
  its training run logs (`mase`), so no test day is ever seen in training;
- champion: the registered path, read at the fold's dates (`frozen`); it was trained on days before
  the window (retraining refuses new data that adds fewer than 28 days after the champion's
  `train_end`), so it has not seen them either.
The champion forecasts from its own, older origin: that staleness is real, it is what keeping the
champion costs, and it is exactly what the decision weighs. For coaches who want the recipe view as
well, the run also logs `champion_refit_mase` (the champion's model family refit on the same folds);
it is information, not the rule.

Rule: promote only if challenger_mase < champion_mase * (1 - margin) (`wth.workspace_contract.promotes`;
default margin 5 %).
The decision is recorded on the retrain pipeline run (metrics champion_mase, challenger_mase, margin,
promoted; tags decision, reason, eval_start, eval_end, champion_version, challenger_version) once it
has been carried out, so a run that records a decision is always one whose decision took effect. The
challenger is registered either way, with its lineage tags, so a rejected model stays traceable; only
a promotion moves the `champion` alias, after rolling a serving endpoint to it without downtime (a
failed rollout leaves the old version serving and the alias where it was, and fails the run).

New data
--------
Read and validated like acquisition (`read_transactions`, `daily_series`: exit 2 on bad input, before
any run starts). The old data is the acquired series cut at the champion's `train_end`. Days of the
new file on or before that day overlap what the champion was trained on: they must agree with it
(relative difference under 1e-6) and are then dropped and reported; if they differ the retrain is
refused, because it would silently rewrite the history the champion was trained and judged on (a
corrected history is a new build, not a retrain). A gap between the old data and the new of more than
HORIZON days is refused; a shorter one is interpolated like any inner gap, and reported. The combined
series is recorded in the workspace as the latest acquired data (step `acquire`); the challenger's
`data_sha256` lineage tag is the sha256 of that recorded `series.csv`.

Failure leaves production alone: input is checked before the run starts; the challenger is registered
only after training and evaluation finished, and the alias moves last. A failing or killed run leaves
the alias, the earlier versions and the endpoint as they were; the run is FAILED (a killed one when
the next pipeline starts, by `workspace.fail_orphaned_runs`).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from wth import data, store
from wth.config import FOLDS, HORIZON
from wth.errors import StepFailed, UsageError
from wth.workspace_contract import (
    CHALLENGER_MASE,
    CHALLENGER_VERSION,
    CHAMPION_MASE,
    CHAMPION_VERSION,
    DECISION,
    EVAL_END,
    EVAL_START,
    MARGIN,
    PROMOTED,
    PROMOTED_METRIC,
    REASON,
    REJECTED,
    RETRAIN_PIPELINE,
    SCORING_URI,
    promotes,
)

from . import acquisition, workspace
from . import train as training
from .evaluate import Backtest, backtest
from .forecast import Forecast
from .workspace import Workspace

DEFAULT_MARGIN = 0.05
MAX_GAP = HORIZON  # days between old and new data that may be interpolated
AGREE = 1e-6  # relative tolerance for overlapping days

Progress = Callable[[str], None]


# --- shared with drift: the champion and its data -------------------------------------------------


def read_series(path: str) -> tuple[pd.Series, acquisition.Loaded]:
    """A TransactionHistory file's daily series over its own span, validated like acquisition."""
    rows = data.read_transactions(path)
    series, filled = data.daily_series(rows, *data.span(rows))
    loaded = acquisition.Loaded(source=str(path), sha256=data.sha256_of(path), rows=len(rows),
                         rows_in_window=len(rows), series=series, interpolated_days=filled)
    return series, loaded


def current_champion(ws: Workspace) -> ModelVersion:
    """The champion version; `UsageError` without one (and without creating a workspace that is not there)."""
    if ws.is_local and not (ws.root / store.DB_FILE).exists():
        raise UsageError(f"no workspace at {ws.root}: run `wth-solution pipeline build` first")
    return workspace.model_version(ws)


def registered_forecast(ws: Workspace, version: ModelVersion) -> Forecast:
    """The `Forecast` a registered version serves (the pyfunc contract of solution/model_code.py)."""
    ws.activate()  # pyfunc resolves models:/ URIs through MLflow's global registry URI
    return mlflow.pyfunc.load_model(f"models:/{ws.model_name}/{version.version}").unwrap_python_model().forecast


def training_data(ws: Workspace, version: ModelVersion) -> pd.Series:
    """The series `version` was trained on: the acquired series cut at its `train_end` tag."""
    acquired = acquisition.latest_acquired(ws.root)
    start, end = pd.Timestamp(version.tags["train_start"]), pd.Timestamp(version.tags["train_end"])
    series = acquired.series()[start:end]
    if series.empty or series.index[0] != start or series.index[-1] != end:
        raise UsageError(
            f"the acquired data ({acquired.start}..{acquired.end}) does not cover version {version.version}'s "
            f"training window {start:%Y-%m-%d}..{end:%Y-%m-%d}: acquire it again"
        )
    return series


# --- combining old and new data -------------------------------------------------------------------


@dataclass
class Combined:
    series: pd.Series
    new_days: int  # days after the old data's end
    overlap_days: int  # days of the new data on or before it, equal to the old values and dropped
    gap_days: int  # days between old and new data, interpolated

    def describe(self) -> str:
        return (f"{self.new_days} new days, {self.overlap_days} overlapping days (equal, dropped), "
                f"{self.gap_days} gap days interpolated")


def combine(old: pd.Series, new: pd.Series) -> Combined:
    """Old + new data under the overlap policy of the module docstring; `UsageError` when refused."""
    end = old.index[-1]
    shared = new.index.intersection(old.index)
    differs = ~np.isclose(new[shared], old[shared], rtol=AGREE, atol=AGREE)
    if differs.any():
        first = shared[differs][0]
        raise UsageError(
            f"{int(differs.sum())} of the {len(shared)} days the new data shares with the champion's training "
            f"data differ (first {first:%Y-%m-%d}: {new[first]:.2f} vs {old[first]:.2f}); retraining does not "
            f"rewrite history: pass only days after {end:%Y-%m-%d}, or run a new build"
        )
    fresh = new[new.index > end]
    if fresh.empty:
        raise UsageError(f"the new data ({new.index[0]:%Y-%m-%d}..{new.index[-1]:%Y-%m-%d}) adds no day "
                         f"after the champion's training end {end:%Y-%m-%d}")
    gap = (fresh.index[0] - end).days - 1
    if gap > MAX_GAP:
        raise UsageError(f"the new data starts {fresh.index[0]:%Y-%m-%d}, {gap} days after the champion's "
                         f"training end {end:%Y-%m-%d}; at most {MAX_GAP} missing days are interpolated")
    series = pd.concat([old, fresh]).asfreq("D").interpolate(method="linear").rename("PaidAmount")
    series.index.name = "date"
    return Combined(series=series, new_days=len(fresh), overlap_days=len(shared), gap_days=gap)


# --- the fair comparison --------------------------------------------------------------------------


def frozen(forecast: Forecast) -> Callable[[pd.Series, int], np.ndarray]:
    """The registered model as a `backtest` forecaster: whatever a fold trains on, it answers with the
    path it serves, read at the fold's dates (it is the model in production and is never refit)."""

    def predict(train: pd.Series, steps: int) -> np.ndarray:
        offset = (train.index[-1] - forecast.train_end).days
        if offset < 0:
            raise ValueError(f"fold origin {train.index[-1]:%Y-%m-%d} is inside the training window of "
                             f"the model (ends {forecast.train_end:%Y-%m-%d})")
        if offset + steps > len(forecast.path):
            raise UsageError(f"the evaluation window ends more than {len(forecast.path)} days after the "
                             f"champion's training end {forecast.train_end:%Y-%m-%d}: its forecast does not reach")
        return np.maximum(forecast.path[offset : offset + steps], 0.0)  # as served (Forecast.predict)

    return predict


@dataclass
class Decision:
    champion: Backtest
    challenger: Backtest
    margin: float

    @property
    def champion_mase(self) -> float:
        return self.champion.metrics["mase"]

    @property
    def challenger_mase(self) -> float:
        return self.challenger.metrics["mase"]

    @property
    def improvement(self) -> float:
        return 1 - self.challenger_mase / self.champion_mase

    @property
    def promoted(self) -> bool:
        return promotes(self.champion_mase, self.challenger_mase, self.margin)

    @property
    def window(self) -> tuple[str, str]:
        return self.challenger.window

    @property
    def reason(self) -> str:
        start, end = self.window
        verb = "beats" if self.promoted else "does not beat"
        return (f"challenger MASE {self.challenger_mase:.3f} {verb} champion MASE {self.champion_mase:.3f} "
                f"by the margin {self.margin:.0%} (improvement {self.improvement:+.1%}) on {start}..{end}")


def compare(champion: Forecast, challenger: Backtest, series: pd.Series, margin: float) -> Decision:
    """Score the registered champion on the challenger's backtest folds (same window, origins, scale)."""
    scored = backtest(frozen(champion), series)
    if scored.origins != challenger.origins or scored.window != challenger.window:
        raise ValueError("champion and challenger were not scored on the same folds")
    return Decision(champion=scored, challenger=challenger, margin=margin)


# --- the pipeline ---------------------------------------------------------------------------------


def _roll_endpoint(ws: Workspace, version: str, progress: Progress) -> None:
    """Zero-downtime rollout of a serving local endpoint (solution.endpoint); nothing when none serves."""
    from . import endpoint

    if endpoint.live(ws) is None:
        progress("no endpoint is serving: nothing to roll")
        return
    record = endpoint.deploy(ws, version=version, progress=progress)
    mlflow.set_tags({SCORING_URI: record.scoring_uri, "served_version": record.model_version})


def run(ws: Workspace, new_data: str, margin: float | None = None, progress: Progress = print) -> Decision:
    """`wth-solution retrain --new-data PATH`: the retrain pipeline of the module docstring."""
    margin = DEFAULT_MARGIN if margin is None else margin
    if not 0 <= margin < 1:
        raise UsageError(f"--margin {margin} must be a fraction in [0, 1), e.g. 0.05 for 5 %")
    before = current_champion(ws)
    champion = registered_forecast(ws, before)
    new, loaded = read_series(new_data)
    combined = combine(training_data(ws, before), new)
    if combined.new_days < FOLDS * HORIZON:
        raise UsageError(f"the new data adds {combined.new_days} days after the champion's training end "
                         f"{before.tags['train_end']}; a fair comparison needs at least {FOLDS * HORIZON}")
    series = combined.series
    progress(f"champion: version {before.version} ({champion.model}, trained to {before.tags['train_end']})")
    progress(f"new data {new_data}: {loaded.rows:,} rows, {combined.describe()}")

    with workspace.pipeline_run(ws, RETRAIN_PIPELINE, **{CHAMPION_VERSION: str(before.version)},
                                new_data_sha256=loaded.sha256) as parent:
        progress(f"retrain pipeline run {parent.info.run_id} in {ws.tracking_uri}")
        with workspace.step("acquire"):
            digest = hashlib.sha256(series.to_csv().encode()).hexdigest()
            acquired = acquisition.record(ws.root, acquisition.Loaded(
                source=f"{before.tags['data_sha256'][:12]} to {before.tags['train_end']} + {new_data}",
                sha256=digest, rows=loaded.rows, rows_in_window=loaded.rows_in_window, series=series,
                interpolated_days=loaded.interpolated_days + combined.gap_days))
            mlflow.log_params({"new_data": new_data, "new_data_sha256": loaded.sha256, "new_rows": loaded.rows,
                               "new_days": combined.new_days, "overlap_days": combined.overlap_days,
                               "gap_days": combined.gap_days, "start": acquired.start, "end": acquired.end})
        with workspace.step("train"):
            try:
                trained = training.train(series, acquired, progress)
            except Exception as err:  # a model that will not fit is a failed step, not a crash
                raise StepFailed(f"training the challenger failed ({type(err).__name__}: {err}); "
                                 f"version {before.version} stays the champion") from err
        with workspace.step("evaluate"):
            decision = compare(champion, trained.selection.backtests[trained.selection.chosen], series, margin)
            progress(("promote: " if decision.promoted else "reject: ") + decision.reason)
        verdict = PROMOTED if decision.promoted else REJECTED
        with workspace.step("register"):
            tags = {**training.lineage_tags(trained), "retrain_run_id": parent.info.run_id, DECISION: verdict}
            version = workspace.register(ws, trained.model_uri, tags)
        if decision.promoted:
            with workspace.step("promote"):
                _roll_endpoint(ws, str(version.version), progress)
                workspace.set_champion(ws, version.version)
            progress(f"version {version.version} is the champion")
        else:
            progress(f"registered version {version.version}; version {before.version} stays the champion")
        # recorded once applied: a run that carries a decision has carried it out (a failed one carries none)
        start, end = decision.window
        metrics = {CHAMPION_MASE: decision.champion_mase, CHALLENGER_MASE: decision.challenger_mase,
                   MARGIN: margin, PROMOTED_METRIC: float(decision.promoted)}
        refit = trained.selection.backtests.get(champion.model)
        if refit is not None:
            metrics["champion_refit_mase"] = refit.metrics["mase"]
        mlflow.log_metrics(metrics)
        mlflow.set_tags({DECISION: verdict, REASON: decision.reason, EVAL_START: start, EVAL_END: end,
                         CHALLENGER_VERSION: str(version.version)})
    return decision


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `retrain` and `pipeline retrain`."""
    parser.add_argument("--new-data", required=True, metavar="PATH", help="new transactions (TransactionHistory layout)")
    parser.add_argument("--margin", type=float, default=None, help="relative MASE improvement required to promote")
