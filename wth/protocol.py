"""The hack's evaluation protocol, run the same way by the reference solution and the grader (the
constants are `wth.config`'s).

Rolling origin: FOLDS folds cover the last FOLDS*HORIZON days of the series; every fold refits on the
days before its origin and forecasts its HORIZON days; a fold's MASE is its MAE over the in-sample
weekly seasonal naive MAE of the days before its origin; a figure is the mean over folds. A longer
look runs the same loop with origins `spacing` days apart, closer than the horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import FOLDS, HORIZON, SEASON

Forecaster = Callable[[pd.Series, int], np.ndarray]  # (the days before an origin, steps) -> the forecast


def fold_origins(series: Sized, folds: int = FOLDS, horizon: int = HORIZON, spacing: int | None = None) -> list[int]:
    """Positions where each fold's test days start: the last fold ends with the series, and each
    origin is `spacing` days (default `horizon`: the folds tile the last folds*horizon days) after the one before."""
    spacing = spacing or horizon
    needed = (folds - 1) * spacing + horizon + 4 * SEASON
    if len(series) < needed:
        raise ValueError(f"the series has {len(series)} days; the backtest needs at least {needed}")
    return [len(series) - horizon - k * spacing for k in range(folds - 1, -1, -1)]


def seasonal_naive_scale(train, season: int = SEASON) -> float:
    """In-sample MAE of the weekly seasonal naive forecast: the MASE denominator."""
    train = np.asarray(train, dtype=float)
    if len(train) <= season:
        raise ValueError(f"need more than {season} days to scale MASE, got {len(train)}")
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def seasonal_naive(train, steps: int, season: int = SEASON) -> np.ndarray:
    """The weekly seasonal naive forecast: the last `season` days, repeated."""
    return np.resize(np.asarray(train, dtype=float)[-season:], steps)


@dataclass(frozen=True)
class Fold:
    train: pd.Series  # the days before the origin
    test: pd.Series  # the fold's days
    forecast: np.ndarray  # made from `train` alone
    scale: float  # the MASE denominator

    @property
    def mase(self) -> float:
        return float(np.mean(np.abs(self.test.to_numpy(dtype=float) - self.forecast))) / self.scale


def rolling_origin(forecast: Forecaster, series: pd.Series, folds: int = FOLDS, horizon: int = HORIZON,
                   spacing: int | None = None) -> list[Fold]:
    """Every fold of the protocol, `forecast` refitted at each origin on the days before it."""
    out = []
    for origin in fold_origins(series, folds, horizon, spacing):
        train, test = series.iloc[:origin], series.iloc[origin:origin + horizon]
        predicted = np.asarray(forecast(train, len(test)), dtype=float)
        out.append(Fold(train, test, predicted, seasonal_naive_scale(train)))
    return out


def rolling_mase(forecast: Forecaster, series: pd.Series, folds: int = FOLDS, horizon: int = HORIZON) -> float:
    """The protocol's MASE of `forecast` on `series`: the mean over folds."""
    return float(np.mean([fold.mase for fold in rolling_origin(forecast, series, folds, horizon)]))
