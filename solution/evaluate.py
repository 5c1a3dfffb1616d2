"""Forecast accuracy: the metrics and the project's one evaluation protocol.

Protocol (every MASE in this project is computed this way, so figures compare): rolling origin,
`FOLDS` folds of `HORIZON` days over the last FOLDS*HORIZON days of the series; each fold refits
on the days before its origin; MASE is scaled by that fold's in-sample weekly seasonal naive MAE;
a metric is the mean over folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wth.config import FOLDS, HORIZON, SEASON

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def seasonal_naive_scale(train: np.ndarray, season: int = SEASON) -> float:
    """In-sample MAE of the weekly seasonal naive forecast: the MASE denominator."""
    train = np.asarray(train, dtype=float)
    if len(train) <= season:
        raise ValueError(f"need more than {season} days to scale MASE, got {len(train)}")
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def accuracy(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    error = actual - forecast
    nonzero = np.abs(actual) > 1e-9
    denominator = np.abs(actual) + np.abs(forecast)
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error[nonzero] / actual[nonzero])) * 100) if nonzero.any() else float("nan"),
        "smape": float(np.mean(np.where(denominator > 0, 2 * np.abs(error) / np.where(denominator > 0, denominator, 1), 0)) * 100),
        "mase": float(np.mean(np.abs(error)) / scale) if scale > 0 else float("nan"),
    }


@dataclass
class Backtest:
    """Per-fold and mean metrics of one forecaster on one series."""

    folds: list[dict[str, float]]
    origins: list[pd.Timestamp]
    forecasts: pd.Series  # the out-of-sample forecasts of all folds, indexed by date

    @property
    def metrics(self) -> dict[str, float]:
        return {name: float(np.mean([fold[name] for fold in self.folds])) for name in METRICS}

    @property
    def window(self) -> tuple[str, str]:
        return f"{self.forecasts.index[0]:%Y-%m-%d}", f"{self.forecasts.index[-1]:%Y-%m-%d}"


def fold_origins(series: pd.Series, folds: int = FOLDS, horizon: int = HORIZON) -> list[int]:
    """Positions where each fold's test days start (the last folds*horizon days)."""
    if len(series) < folds * horizon + 4 * SEASON:
        raise ValueError(
            f"the series has {len(series)} days; the backtest needs at least {folds * horizon + 4 * SEASON}"
        )
    return [len(series) - k * horizon for k in range(folds, 0, -1)]


def backtest(
    forecast: Callable[[pd.Series, int], np.ndarray],
    series: pd.Series,
    folds: int = FOLDS,
    horizon: int = HORIZON,
) -> Backtest:
    """Rolling-origin backtest of `forecast(train, steps) -> values` on `series`."""
    results, origins, pieces = [], [], []
    for origin in fold_origins(series, folds, horizon):
        train, test = series.iloc[:origin], series.iloc[origin : origin + horizon]
        predicted = np.asarray(forecast(train, len(test)), dtype=float)
        results.append(accuracy(test.to_numpy(), predicted, seasonal_naive_scale(train.to_numpy())))
        origins.append(test.index[0])
        pieces.append(pd.Series(predicted, index=test.index))
    return Backtest(folds=results, origins=origins, forecasts=pd.concat(pieces))
