"""The training step: choose a model by backtest, fit it, and log everything a reviewer needs.

Runs inside an active MLflow run (a pipeline's `train` step, or a plain training run) and logs the
workspace contract (docs/contracts.md): params, the backtest metrics of the chosen model and of every
baseline, the dataset, a forecast-vs-actual plot, and the model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402

from wth.config import FOLDS, HORIZON, SEASON  # noqa: E402
from wth.data import parse_day  # noqa: E402
from wth.errors import UsageError  # noqa: E402
from wth.workspace_contract import BUILD_ID, EVAL_END, EVAL_START  # noqa: E402

from . import forecast as fc  # noqa: E402
from . import model_logging  # noqa: E402
from .acquisition import Acquired  # noqa: E402

# metric prefixes of the baselines, as the workspace contract names them
BASELINE_PREFIX = {"snaive": "baseline_snaive_", "naive": "baseline_naive_", "mean": "baseline_mean_",
                   "legacy_arima": "legacy_arima_"}
MIN_DAYS = FOLDS * HORIZON + 8 * SEASON


@dataclass
class Trained:
    run_id: str
    model_uri: str
    forecast: fc.Forecast
    selection: fc.Selection
    metrics: dict[str, float]
    params: dict[str, str]


def training_series(acquired: Acquired, train_end: str | None = None) -> pd.Series:
    """The acquired series, cut at `train_end`; `UsageError` when too short to backtest."""
    series = acquired.series()
    if train_end:
        series = series[: parse_day(train_end, "--train-end")]
    if len(series) < MIN_DAYS:
        raise UsageError(
            f"only {len(series)} days to train on ({acquired.start}..{train_end or acquired.end}); "
            f"the backtest needs at least {MIN_DAYS}"
        )
    return series


def plot(series: pd.Series, selection: fc.Selection, forecast: fc.Forecast) -> plt.Figure:
    """Recent actuals, the chosen model's backtest forecasts, the seasonal naive's, and the future."""
    chosen, snaive = selection.backtests[selection.chosen], selection.backtests["snaive"]
    future = forecast.predict(4 * HORIZON, interval=0.8)
    figure, ax = plt.subplots(figsize=(10, 4))
    series.iloc[-12 * SEASON :].plot(ax=ax, color="black", lw=1.2, label="actual")
    snaive.forecasts.plot(ax=ax, color="grey", ls=":", label=f"seasonal naive (MASE {snaive.metrics['mase']:.2f})")
    chosen.forecasts.plot(ax=ax, color="tab:blue", label=f"{selection.chosen} backtest (MASE {chosen.metrics['mase']:.2f})")
    future["forecast"].plot(ax=ax, color="tab:orange", label="forecast")
    ax.fill_between(future.index, future["lower"], future["upper"], color="tab:orange", alpha=0.2, label="80% interval")
    ax.set_ylabel("mean PaidAmount per transaction")
    ax.set_title("Daily transactions: backtest over the last 4 weeks and the forecast")
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def train(series: pd.Series, acquired: Acquired, progress: Callable[[str], None] = print) -> Trained:
    """Select, fit and log a model on `series` in the active run."""
    run = mlflow.active_run()
    progress(f"backtesting {len(fc.MODELS)} models on {len(series)} days "
             f"({series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d}), {FOLDS} folds x {HORIZON} days:")
    selection = fc.select(series, progress)
    fitted = fc.fit(selection.chosen, series, selection.paths)
    best = selection.backtests[selection.chosen]
    eval_start, eval_end = best.window
    params = {
        "model": selection.chosen, **fitted.params,
        "train_start": f"{series.index[0]:%Y-%m-%d}", "train_end": f"{series.index[-1]:%Y-%m-%d}",
        "n_obs": str(len(series)), "data_sha256": acquired.sha256, "data_rows": str(acquired.rows),
        "data_source": acquired.source, EVAL_START: eval_start, EVAL_END: eval_end,
        "folds": str(FOLDS), "horizon": str(HORIZON),
    }
    metrics = dict(best.metrics)
    for name, prefix in BASELINE_PREFIX.items():
        metrics.update({prefix + key: value for key, value in selection.backtests[name].metrics.items()})
    for name in fc.CANDIDATES:
        metrics[f"candidate_{name}_mase"] = selection.backtests[name].metrics["mase"]
    mlflow.log_params(params)
    mlflow.log_metrics(metrics)
    frame = series.rename("PaidAmount").reset_index()
    mlflow.log_input(
        mlflow.data.from_pandas(frame, source=Path(acquired.series_file).as_uri(),
                                name=f"transactions-{acquired.sha256[:12]}"),
        context="training",
    )
    figure = plot(series, selection, fitted)
    mlflow.log_figure(figure, "forecast.png")
    plt.close(figure)
    info = model_logging.log(fitted, metadata={"data_sha256": acquired.sha256, "run_id": run.info.run_id})
    return Trained(run_id=run.info.run_id, model_uri=info.model_uri, forecast=fitted,
                   selection=selection, metrics=metrics, params=params)


def lineage_tags(trained: Trained) -> dict[str, str]:
    """Tags every registered version carries (docs/contracts.md), so a version leads back to its run and data."""
    tags = {key: trained.params[key] for key in ("data_sha256", "train_start", "train_end", "n_obs")}
    tags.update(run_id=trained.run_id, mase=f"{trained.metrics['mase']:.4f}", model=trained.params["model"])
    build_id = (mlflow.active_run().data.tags.get(BUILD_ID) if mlflow.active_run() else None)
    if build_id:
        tags[BUILD_ID] = build_id
    return tags
