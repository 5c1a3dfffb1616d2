"""The forecasters and the hack's backtest (Challenge 01): rolling origin, 4 folds of 7 days over the
last 28 days, each fold refit on the days before its origin, MASE scaled by the fold's in-sample
weekly seasonal naive error, every metric the mean of its per-fold values.

A forecaster is a function `f(train, steps) -> values` of the days before the origin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

FOLDS, HORIZON, SEASON = 4, 7, 7
WEEKS = 12  # our model's memory: the best of 4, 8 and 12 weeks in the notebook's backtest


def snaive(train: pd.Series, steps: int) -> np.ndarray:
    return np.resize(train.to_numpy()[-SEASON:], steps)


def naive(train: pd.Series, steps: int) -> np.ndarray:
    return np.full(steps, train.iloc[-1])


def mean(train: pd.Series, steps: int) -> np.ndarray:
    return np.full(steps, train.mean())


def legacy_arima(train: pd.Series, steps: int) -> np.ndarray:
    """The data scientists' ARIMA(2,0,2)."""
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(train.to_numpy(), order=(2, 0, 2)).fit().forecast(steps)


def weekday_median(train: pd.Series, steps: int, weeks: int = WEEKS) -> np.ndarray:
    """Our model: each weekday's median over the last `weeks` weeks (the weekends are skewed: MASE, an
    absolute error, is served better by a median than by a mean)."""
    recent = train.iloc[-weeks * SEASON:]
    profile = recent.groupby(recent.index.day_of_week).median()
    future = pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=steps, freq="D")
    return profile.reindex(future.day_of_week).to_numpy()


def forecast(series: pd.Series, steps: int) -> pd.Series:
    """Our model's forecast of the `steps` days after the series ends, by date."""
    future = pd.date_range(series.index[-1] + pd.Timedelta(days=1), periods=steps, freq="D", name="date")
    return pd.Series(weekday_median(series, steps), index=future, name="forecast")


BASELINES = {"snaive": snaive, "naive": naive, "mean": mean, "legacy_arima": legacy_arima}
PREFIXES = {"snaive": "baseline_snaive_", "naive": "baseline_naive_", "mean": "baseline_mean_",
            "legacy_arima": "legacy_arima_"}


def mase_scale(train: np.ndarray) -> float:
    return float(np.mean(np.abs(train[SEASON:] - train[:-SEASON])))


def accuracy(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    error = actual - predicted
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2))),
            "mape": float(np.mean(np.abs(error / actual)) * 100),
            "smape": float(np.mean(2 * np.abs(error) / (np.abs(actual) + np.abs(predicted))) * 100),
            "mase": float(np.mean(np.abs(error)) / scale)}


def origins(series: pd.Series) -> list[int]:
    return [len(series) - k * HORIZON for k in range(FOLDS, 0, -1)]


def backtest(forecaster, series: pd.Series) -> dict[str, float]:
    folds = []
    for origin in origins(series):
        train, test = series.iloc[:origin], series.iloc[origin:origin + HORIZON]
        predicted = np.asarray(forecaster(train, HORIZON), dtype=float)
        folds.append(accuracy(test.to_numpy(), predicted, mase_scale(train.to_numpy())))
    return pd.DataFrame(folds).mean().to_dict()
