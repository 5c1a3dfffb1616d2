"""Forecasting models: the data scientists' legacy ARIMA(2,0,2), the baselines, and the candidates
the reference model is chosen from by backtest.

Every model fits a daily series and returns its point forecast for the next `MAX_STEPS` days from
the end of the training data. `fit` turns that into a `Forecast` (solution/model_code.py, the
registered model's code): the path plus the model's rolling-origin errors by horizon step, refitted
at the calibration origins of solution/evaluate.py, that give its prediction intervals. A forecast
from a fixed origin is a fixed path, so the endpoint answers any horizon by slicing it: scoring
costs microseconds and needs no statsmodels object at serve time.
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

from wth import protocol
from wth.config import SEASON

from .evaluate import Backtest, backtest, horizon_errors
from .model_code import MAX_STEPS, Forecast

# Fits on a few hundred days gain nothing from BLAS threads, and on a busy 2-core machine OpenBLAS's
# spinning threads made model selection 10x slower (53 s vs 4.7 s measured): one thread it is.
ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1)
PROFILE_WEEKS = 8

Fit = tuple[np.ndarray, np.ndarray]  # (forecast path of MAX_STEPS days, in-sample fitted values)


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
    fitted = np.concatenate([np.full(SEASON, np.nan), y[:-SEASON]])
    return protocol.seasonal_naive(y, MAX_STEPS), fitted


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


class Paths:
    """Forecast paths by (model, training length), each fitted once: every training set here is a
    prefix of one series, so the selection's folds and the calibration origins share their fits."""

    def __init__(self) -> None:
        self._paths: dict[tuple[str, int], np.ndarray] = {}

    def __call__(self, name: str, train: pd.Series) -> np.ndarray:
        key = (name, len(train))
        if key not in self._paths:
            if name == "median_ensemble":  # the members' paths, without fitting them a second time
                self._paths[key] = np.median([self(member, train) for member in ENSEMBLE_MEMBERS], axis=0)
            else:
                path, _ = MODELS[name](train.to_numpy(dtype=float))
                self._paths[key] = np.asarray(path, dtype=float)
        return self._paths[key]


@ONE_BLAS_THREAD
def fit(name: str, series: pd.Series, paths: Paths | None = None) -> Forecast:
    """Fit model `name` on a daily series, with its rolling-origin errors for the intervals.

    `paths` (a selection's, on the same series) saves refitting the origins it already fitted."""
    paths = paths or Paths()

    def calibration_path(train: pd.Series, steps: int) -> np.ndarray:
        try:
            return paths(name, train)[:steps]
        except (np.linalg.LinAlgError, ValueError):  # a refit that fails numerically leaves its origin out
            return np.full(steps, np.nan)

    return Forecast(
        model=name,
        params=PARAMS.get(name, {"order": name, "seasonal_order": "none", "transform": "none"}),
        train_start=series.index[0],
        train_end=series.index[-1],
        path=paths(name, series),
        errors=horizon_errors(calibration_path, series),
    )


@ONE_BLAS_THREAD
def evaluate(name: str, series: pd.Series) -> Backtest:
    """Backtest model `name` on `series` with the project's protocol (the challenge-01 notebook uses it)."""
    paths = Paths()
    return backtest(lambda train, steps: paths(name, train)[:steps], series)


@dataclass
class Selection:
    """The outcome of model selection: every model's backtest and the chosen candidate."""

    chosen: str
    backtests: dict[str, Backtest]
    paths: Paths = field(default_factory=Paths, repr=False)  # the fits behind the backtests


@ONE_BLAS_THREAD
def select(series: pd.Series, progress: Callable[[str], None] = lambda message: None) -> Selection:
    """Backtest every baseline and candidate; choose the candidate with the lowest MASE.

    Each model is fitted once per fold; the ensemble's fold forecasts are the median of its members'
    (the same numbers `median_ensemble` gives, without fitting the members a second time).
    """
    paths = Paths()
    backtests = {}
    for name in MODELS:
        started = time.perf_counter()
        backtests[name] = backtest(lambda train, steps: paths(name, train)[:steps], series)
        progress(f"  {name:<18} MASE {backtests[name].metrics['mase']:.3f}  ({time.perf_counter() - started:.1f} s)")
    chosen = min(CANDIDATES, key=lambda name: backtests[name].metrics["mase"])
    return Selection(chosen=chosen, backtests=backtests, paths=paths)
