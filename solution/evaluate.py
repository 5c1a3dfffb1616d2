"""Forecast accuracy: the metrics, on the project's one evaluation protocol (`wth.protocol`, which
the grader runs too), and the intervals' calibration and score.

Interval calibration (`horizon_errors`) uses the same rolling origin with a longer reach: the
`CALIBRATION_ORIGINS` origins 7, 14, .. days before the end of the training data, each refitted on
the days before it and forecasting `CALIBRATION_HORIZON` days, give out-of-sample errors by horizon
step (the four most recent origins are the backtest's folds, so their fits are shared); a model that
forecasts a distribution records, at `MIXTURE_CALIBRATION_ORIGINS` such origins, the level each day
needed (`horizon_rows`). Model selection scores the candidates at the same origins (`horizon_mase`).
`interval_accuracy` scores intervals: coverage, mean width and the Winkler (interval) score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wth.config import FOLDS, HORIZON, SEASON
from wth.protocol import Forecaster, rolling_origin, seasonal_naive_scale

METRICS = ("mae", "rmse", "mape", "smape", "mase")
CALIBRATION_ORIGINS = 8  # 56 days back: recent enough to track the current error level
# a distribution's levels are calibrated by week of the horizon, and a 95% level is a tail quantile:
# 16 origins give each week about a hundred days (8 give 56, whose 95% level is the second-farthest
# day's); refitting a distribution costs milliseconds, not a statsmodels fit
MIXTURE_CALIBRATION_ORIGINS = 16
CALIBRATION_HORIZON = 28
CALIBRATION_MIN_TRAIN = 4 * SEASON  # an origin needs four weeks of training data before it


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


def backtest(forecast: Forecaster, series: pd.Series, folds: int = FOLDS, horizon: int = HORIZON) -> Backtest:
    """Every metric of `forecast(train, steps) -> values` on `series`, fold by fold (`wth.protocol`)."""
    done = rolling_origin(forecast, series, folds, horizon)
    return Backtest(folds=[accuracy(fold.test.to_numpy(), fold.forecast, fold.scale) for fold in done],
                    origins=[fold.test.index[0] for fold in done],
                    forecasts=pd.concat([pd.Series(fold.forecast, index=fold.test.index) for fold in done]))


def horizon_rows(
    row: Callable[[pd.Series, np.ndarray], np.ndarray],
    series: pd.Series,
    origins: int = CALIBRATION_ORIGINS,
    horizon: int = CALIBRATION_HORIZON,
    spacing: int = SEASON,
) -> np.ndarray:
    """Row k is `row(the days before the origin, the actual days after it)` for the origin
    `(k + 1) * spacing` days before the end of `series`, over the `horizon` days from it; days past
    the end of `series` are NaN. Origins with fewer than `CALIBRATION_MIN_TRAIN` days before them are
    left out (a short series has fewer rows)."""
    values = series.to_numpy(dtype=float)
    rows = []
    for k in range(1, origins + 1):
        origin = len(series) - k * spacing
        if origin < CALIBRATION_MIN_TRAIN:
            break
        seen = values[origin : origin + horizon]
        out = np.full(horizon, np.nan)
        out[: len(seen)] = row(series.iloc[:origin], seen)
        rows.append(out)
    return np.array(rows).reshape(len(rows), horizon)


def _errors(forecast: Forecaster) -> Callable[[pd.Series, np.ndarray], np.ndarray]:
    """A `horizon_rows` row: actual minus the forecast refitted on the days before the origin."""
    def error(train: pd.Series, seen: np.ndarray) -> np.ndarray:
        return seen - np.asarray(forecast(train, CALIBRATION_HORIZON), dtype=float)[: len(seen)]

    return error


def horizon_errors(forecast: Forecaster, series: pd.Series, origins: int = CALIBRATION_ORIGINS) -> np.ndarray:
    """Out-of-sample errors by horizon step (`horizon_rows`): actual minus the forecast refitted on the
    days before each origin."""
    return horizon_rows(_errors(forecast), series, origins)


def horizon_mase(forecast: Forecaster, series: pd.Series, origins: int = CALIBRATION_ORIGINS) -> float:
    """MASE at the horizon the model serves: at each calibration origin (`horizon_rows`), the MAE of the
    forecast refitted on the days before it over the days seen after it (up to CALIBRATION_HORIZON),
    scaled by those days' seasonal naive MAE; the mean over origins, each counting once as a fold does."""
    error = _errors(forecast)

    def scaled(train: pd.Series, seen: np.ndarray) -> np.ndarray:
        return np.abs(error(train, seen)) / seasonal_naive_scale(train)

    return float(np.mean(np.nanmean(horizon_rows(scaled, series, origins), axis=1)))


def interval_accuracy(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> dict[str, float]:
    """Coverage (share of actuals within [lower, upper]), mean width and mean Winkler score of a
    `level` interval: width + (2 / (1 - level)) * how far an actual falls outside (lower is better)."""
    actual, lower, upper = (np.asarray(a, dtype=float) for a in (actual, lower, upper))
    alpha = 1 - level
    miss = np.maximum(lower - actual, 0) + np.maximum(actual - upper, 0)
    return {
        "coverage": float(np.mean((actual >= lower) & (actual <= upper))),
        "width": float(np.mean(upper - lower)),
        "winkler": float(np.mean(upper - lower + 2 / alpha * miss)),
    }
