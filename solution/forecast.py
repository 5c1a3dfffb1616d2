"""Forecasting models: the data scientists' legacy ARIMA(2,0,2), the baselines, and the candidates
the reference model is chosen from by backtest.

Every model fits a daily series and returns a `Forecast`: the point forecast for the next
`MAX_STEPS` days from the end of the training data, plus the in-sample residuals that give its
prediction intervals. A forecast from a fixed origin is a fixed path, so the endpoint answers any
horizon by slicing it: scoring costs microseconds and needs no statsmodels object at serve time.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.statespace.sarimax import SARIMAX
from threadpoolctl import threadpool_limits

from wth.config import SEASON

from .evaluate import Backtest, backtest

MAX_STEPS = 365
# Fits on a few hundred days gain nothing from BLAS threads, and on a busy 2-core machine OpenBLAS's
# spinning threads made model selection 10x slower (53 s vs 4.7 s measured): one thread it is.
ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1)
INTERVAL_WEEKS = 12  # in-sample residuals of the last 12 weeks set the interval width
PROFILE_WEEKS = 8

Fit = tuple[np.ndarray, np.ndarray]  # (forecast path of MAX_STEPS days, in-sample fitted values)


@dataclass
class Forecast:
    """A fitted model reduced to what serving needs: its forecast path and interval residuals."""

    model: str
    params: dict
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    path: np.ndarray
    residuals: np.ndarray = field(repr=False)

    def predict(self, steps: int, interval: float | None = None) -> pd.DataFrame:
        """`steps` days after the training end: forecast, and lower/upper bounds when `interval` is set.

        Bounds are empirical quantiles of recent in-sample residuals added to the point forecast,
        clipped at 0 (amounts are never negative); they do not widen with the horizon.
        """
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be within 1..{MAX_STEPS}")
        dates = pd.date_range(self.train_end + pd.Timedelta(days=1), periods=steps, freq="D", name="date")
        frame = pd.DataFrame({"forecast": np.maximum(self.path[:steps], 0.0)}, index=dates)
        if interval is not None:
            if not 0 < interval < 1:
                raise ValueError("interval must be a probability between 0 and 1")
            low, high = np.quantile(self.residuals, [(1 - interval) / 2, (1 + interval) / 2])
            # biased residuals (a trend the model missed) can put both quantiles on one side: the
            # interval always contains the point forecast
            frame["lower"] = np.maximum(frame["forecast"] + min(low, 0.0), 0.0)
            frame["upper"] = frame["forecast"] + max(high, 0.0)
        return frame


def _quiet(fit: Callable[[], object]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


def _log(fit: Callable[[np.ndarray], Fit]) -> Callable[[np.ndarray], Fit]:
    """Fit on log1p(y) and return to the original scale: forecasts become medians, which suits
    the skewed weekend days and an absolute-error metric like MASE."""

    def fitted(y: np.ndarray) -> Fit:
        path, inner = fit(np.log1p(np.maximum(y, 0.0)))
        return np.expm1(path), np.expm1(inner)

    return fitted


def seasonal_naive(y: np.ndarray) -> Fit:
    last_week = y[-SEASON:]
    fitted = np.concatenate([np.full(SEASON, np.nan), y[:-SEASON]])
    return np.resize(last_week, MAX_STEPS), fitted


def naive(y: np.ndarray) -> Fit:
    return np.full(MAX_STEPS, y[-1]), np.concatenate([[np.nan], y[:-1]])


def mean(y: np.ndarray) -> Fit:
    return np.full(MAX_STEPS, y.mean()), np.full(len(y), y.mean())


def legacy_arima(y: np.ndarray) -> Fit:
    """The data scientists' ARIMA(2,0,2), on today's statsmodels API."""
    result = _quiet(lambda: ARIMA(y, order=(2, 0, 2)).fit())
    return result.forecast(MAX_STEPS), result.fittedvalues


def holt_winters(y: np.ndarray) -> Fit:
    """Exponential smoothing with an additive weekly season."""
    result = _quiet(lambda: ExponentialSmoothing(y, seasonal="add", seasonal_periods=SEASON).fit())
    return result.forecast(MAX_STEPS), result.fittedvalues


def sarima(y: np.ndarray) -> Fit:
    """Seasonal ARIMA(1,0,1)(1,0,1)[7] with a constant."""
    model = SARIMAX(y, order=(1, 0, 1), seasonal_order=(1, 0, 1, SEASON), trend="c")
    result = _quiet(lambda: model.fit(disp=False))
    return result.forecast(MAX_STEPS), result.fittedvalues


def weekly_profile(y: np.ndarray) -> Fit:
    """Median of each weekday over the last weeks: robust to the spiky, skewed days."""
    recent = y[-PROFILE_WEEKS * SEASON :]
    phase = np.arange(len(recent)) % SEASON
    profile = np.array([np.median(recent[phase == k]) for k in range(SEASON)])
    start = len(recent) % SEASON  # the weekday position that follows the last day
    path = np.resize(np.roll(profile, -start), MAX_STEPS)
    fitted = np.full(len(y), np.nan)
    fitted[-len(recent) :] = profile[phase]
    return path, fitted


BASELINES: dict[str, Callable[[np.ndarray], Fit]] = {
    "snaive": seasonal_naive,
    "naive": naive,
    "mean": mean,
    "legacy_arima": legacy_arima,
}

ENSEMBLE_MEMBERS: dict[str, Callable[[np.ndarray], Fit]] = {
    "holt_winters": holt_winters,
    "holt_winters_log": _log(holt_winters),
    "sarima_log": _log(sarima),
    "weekly_profile": weekly_profile,
}


def median_ensemble(y: np.ndarray) -> Fit:
    """Median of the candidates' forecasts: often better than any one of them."""
    fits = [fit(y) for fit in ENSEMBLE_MEMBERS.values()]
    return np.median([f[0] for f in fits], axis=0), np.median([f[1] for f in fits], axis=0)


CANDIDATES: dict[str, Callable[[np.ndarray], Fit]] = {**ENSEMBLE_MEMBERS, "median_ensemble": median_ensemble}

PARAMS = {
    "legacy_arima": {"order": "(2, 0, 2)", "seasonal_order": "none", "transform": "none"},
    "holt_winters": {"order": "ETS(A,N,A)", "seasonal_order": "weekly additive", "transform": "none"},
    "holt_winters_log": {"order": "ETS(A,N,A)", "seasonal_order": "weekly additive", "transform": "log1p"},
    "sarima_log": {"order": "(1, 0, 1)", "seasonal_order": "(1, 0, 1, 7)", "transform": "log1p"},
    "weekly_profile": {"order": f"median of last {PROFILE_WEEKS} weeks", "seasonal_order": "weekday", "transform": "none"},
    "median_ensemble": {"order": "median of " + ", ".join(ENSEMBLE_MEMBERS),
                        "seasonal_order": "weekly", "transform": "mixed"},
}

MODELS = {**BASELINES, **CANDIDATES}


@ONE_BLAS_THREAD
def fit(name: str, series: pd.Series) -> Forecast:
    """Fit model `name` on a daily series."""
    values = series.to_numpy(dtype=float)
    path, fitted = MODELS[name](values)
    residuals = (values - np.asarray(fitted, dtype=float))[-INTERVAL_WEEKS * SEASON :]
    residuals = residuals[np.isfinite(residuals)]
    return Forecast(
        model=name,
        params=PARAMS.get(name, {"order": name, "seasonal_order": "none", "transform": "none"}),
        train_start=series.index[0],
        train_end=series.index[-1],
        path=np.asarray(path, dtype=float),
        residuals=residuals if len(residuals) else np.zeros(1),
    )


def evaluate(name: str, series: pd.Series) -> Backtest:
    """Backtest model `name` on `series` with the project's protocol (the challenge-01 notebook uses it)."""
    return backtest(lambda train, steps: fit(name, train).path[:steps], series)


@dataclass
class Selection:
    """The outcome of model selection: every model's backtest and the chosen candidate."""

    chosen: str
    backtests: dict[str, Backtest]


@ONE_BLAS_THREAD
def select(series: pd.Series, progress: Callable[[str], None] = lambda message: None) -> Selection:
    """Backtest every baseline and candidate; choose the candidate with the lowest MASE.

    Each model is fitted once per fold; the ensemble's fold forecasts are the median of its members'
    (the same numbers `median_ensemble` gives, without fitting the members a second time).
    """
    paths: dict[tuple[str, int], np.ndarray] = {}

    def path(name: str, train: pd.Series) -> np.ndarray:
        key = (name, len(train))  # every fold's training data is a prefix of `series`
        if key not in paths:
            if name == "median_ensemble":
                paths[key] = np.median([path(member, train) for member in ENSEMBLE_MEMBERS], axis=0)
            else:
                paths[key] = fit(name, train).path
        return paths[key]

    backtests = {}
    for name in MODELS:
        started = time.perf_counter()
        backtests[name] = backtest(lambda train, steps: path(name, train)[:steps], series)
        progress(f"  {name:<18} MASE {backtests[name].metrics['mase']:.3f}  ({time.perf_counter() - started:.1f} s)")
    chosen = min(CANDIDATES, key=lambda name: backtests[name].metrics["mase"])
    return Selection(chosen=chosen, backtests=backtests)
