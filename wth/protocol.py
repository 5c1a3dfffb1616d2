"""The hack's evaluation protocol, read the same way by the reference solution and the grader: where
the rolling-origin folds start and the MASE denominator (the constants are `wth.config`'s).

Every fold refits on the days before its origin and forecasts HORIZON days; FOLDS folds cover the
last FOLDS*HORIZON days of the series; a fold's MASE is its MAE over the in-sample weekly seasonal
naive MAE of the days before its origin; a figure is the mean over folds.
"""

from __future__ import annotations

from collections.abc import Sized

import numpy as np

from .config import FOLDS, HORIZON, SEASON


def fold_origins(series: Sized, folds: int = FOLDS, horizon: int = HORIZON) -> list[int]:
    """Positions where each fold's test days start (the last folds*horizon days)."""
    if len(series) < folds * horizon + 4 * SEASON:
        raise ValueError(
            f"the series has {len(series)} days; the backtest needs at least {folds * horizon + 4 * SEASON}"
        )
    return [len(series) - k * horizon for k in range(folds, 0, -1)]


def seasonal_naive_scale(train, season: int = SEASON) -> float:
    """In-sample MAE of the weekly seasonal naive forecast: the MASE denominator."""
    train = np.asarray(train, dtype=float)
    if len(train) <= season:
        raise ValueError(f"need more than {season} days to scale MASE, got {len(train)}")
    return float(np.mean(np.abs(train[season:] - train[:-season])))
