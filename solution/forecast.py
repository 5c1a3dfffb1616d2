"""Forecasting models: the data scientists' legacy ARIMA(2,0,2), the baselines, and the candidates
the reference model is chosen from by backtest.

Every model fits a daily series (its index gives the calendar) and returns its point forecast for
the next `MAX_STEPS` days from the end of the training data. `fit` turns that into a `Forecast`
(solution/model_code.py, the registered model's code): the path plus the model's rolling-origin errors
by horizon step, refitted at the calibration origins of solution/evaluate.py, that give its prediction
intervals. A forecast from a fixed origin is a fixed path, so the endpoint answers any horizon by
slicing it: scoring costs microseconds and needs no statsmodels object at serve time.
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
from threadpoolctl import threadpool_limits

from wth import protocol
from wth.config import SEASON

from .evaluate import Backtest, backtest, horizon_errors
from .model_code import MAX_STEPS, Forecast

# Fits on a few hundred days gain nothing from BLAS threads, and on a busy 2-core machine OpenBLAS's
# spinning threads made model selection 10x slower (53 s vs 4.7 s measured): one thread it is.
ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1)
PROFILE_WEEKS = 8
BUSY_HALF_LIFE_WEEKS = 2  # how fast the chance of a busy day forgets: weeks, as the autumn-2013 pattern changed
AMOUNT_HALF_LIFE_WEEKS = 8  # how fast the amounts of busy and quiet days forget

Fit = tuple[np.ndarray, np.ndarray]  # (forecast path of MAX_STEPS days, in-sample fitted values)


def _quiet(fit: Callable[[], object]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


def _log(fit: Callable[[pd.Series], Fit]) -> Callable[[pd.Series], Fit]:
    """Fit on log1p(y) and return to the original scale: forecasts become medians, which suits
    the skewed weekend days and an absolute-error metric like MASE."""

    def fitted(series: pd.Series) -> Fit:
        path, inner = fit(np.log1p(series.clip(lower=0.0)))
        return np.expm1(path), np.expm1(inner)

    return fitted


def _values(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=float)


def seasonal_naive(series: pd.Series) -> Fit:
    y = _values(series)
    fitted = np.concatenate([np.full(SEASON, np.nan), y[:-SEASON]])
    return protocol.seasonal_naive(y, MAX_STEPS), fitted


def naive(series: pd.Series) -> Fit:
    y = _values(series)
    return np.full(MAX_STEPS, y[-1]), np.concatenate([[np.nan], y[:-1]])


def mean(series: pd.Series) -> Fit:
    y = _values(series)
    return np.full(MAX_STEPS, y.mean()), np.full(len(y), y.mean())


def legacy_arima(series: pd.Series) -> Fit:
    """The data scientists' ARIMA(2,0,2), on today's statsmodels API."""
    result = _quiet(lambda: ARIMA(_values(series), order=(2, 0, 2)).fit())
    return result.forecast(MAX_STEPS), result.fittedvalues


def holt_winters(series: pd.Series) -> Fit:
    """Exponential smoothing with an additive weekly season."""
    result = _quiet(lambda: ExponentialSmoothing(_values(series), seasonal="add", seasonal_periods=SEASON).fit())
    return result.forecast(MAX_STEPS), result.fittedvalues


def weekly_profile(series: pd.Series) -> Fit:
    """Median of each weekday over the last weeks: robust to the spiky, skewed days."""
    y = _values(series)
    recent = y[-PROFILE_WEEKS * SEASON :]
    phase = np.arange(len(recent)) % SEASON
    profile = np.array([np.median(recent[phase == k]) for k in range(SEASON)])
    start = len(recent) % SEASON  # the weekday position that follows the last day
    path = np.resize(np.roll(profile, -start), MAX_STEPS)
    fitted = np.full(len(y), np.nan)
    fitted[-len(recent) :] = profile[phase]
    return path, fitted


def busy_threshold(y: np.ndarray) -> float:
    """The amount that splits busy days from quiet ones: two clusters on the log scale, the threshold
    halfway (in logs) between their means, found by iterating from the median."""
    logs = np.log1p(np.maximum(y, 0.0))
    threshold = float(np.median(logs))
    for _ in range(100):
        low, high = logs[logs <= threshold], logs[logs > threshold]
        if len(high) == 0:
            break
        moved = (low.mean() + high.mean()) / 2
        if abs(moved - threshold) < 1e-9:
            break
        threshold = moved
    return float(np.expm1(threshold))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cumulative, q), len(values) - 1)])


def busy_days(series: pd.Series) -> Fit:
    """Two kinds of days: busy ones, with purchase orders or the month's reseller orders (a high
    daily mean), and quiet ones with only small sales. The forecast of a day is the median of the mix:

    - the chance of a busy day, for workdays and for weekends, from recent weeks (weights halving
      every BUSY_HALF_LIFE_WEEKS): the weekly pattern, and its shifts;
    - on the last day of a month, at least the share of busy month ends so far (reseller orders);
    - what busy days and quiet days amount to, each pooled over every weekday (weights halving every
      AMOUNT_HALF_LIFE_WEEKS);
    - with a chance p of busy, the median is the (p - 1/2)/p quantile of the busy amounts when
      p >= 1/2, else the 1/(2 (1 - p)) quantile of the quiet ones.
    """
    y = _values(series)
    age_weeks = np.arange(len(y))[::-1] / SEASON
    chance_weights, amount_weights = 0.5 ** (age_weeks / BUSY_HALF_LIFE_WEEKS), 0.5 ** (age_weeks / AMOUNT_HALF_LIFE_WEEKS)
    busy = y > busy_threshold(y)
    weekend = series.index.day_of_week.to_numpy() >= 5
    chance = {kind: float(np.sum(chance_weights[busy & (weekend == kind)]) / np.sum(chance_weights[weekend == kind]))
              if (weekend == kind).any() else float(busy.mean()) for kind in (False, True)}
    month_ends = series.index.is_month_end
    month_end_chance = float(busy[month_ends].mean()) if month_ends.any() else 0.0

    def median(p: float) -> float:
        if p >= 0.5:
            return _weighted_quantile(y[busy], amount_weights[busy], (p - 0.5) / p)
        return _weighted_quantile(y[~busy], amount_weights[~busy], 0.5 / (1 - p))

    def forecast(days: pd.DatetimeIndex) -> np.ndarray:
        p = np.where(days.day_of_week >= 5, chance[True], chance[False])
        p = np.where(days.is_month_end, np.maximum(p, month_end_chance), p)
        by_chance = {value: median(value) for value in np.unique(p)}
        return np.array([by_chance[value] for value in p])

    future = pd.date_range(series.index[-1] + pd.Timedelta(days=1), periods=MAX_STEPS, freq="D")
    return forecast(future), forecast(series.index)


BASELINES: dict[str, Callable[[pd.Series], Fit]] = {
    "snaive": seasonal_naive,
    "naive": naive,
    "mean": mean,
    "legacy_arima": legacy_arima,
}

ENSEMBLE_MEMBERS: dict[str, Callable[[pd.Series], Fit]] = {
    "holt_winters": holt_winters,
    "holt_winters_log": _log(holt_winters),
    "weekly_profile": weekly_profile,
}


def median_ensemble(series: pd.Series) -> Fit:
    """Median of the candidates' forecasts: often better than any one of them."""
    fits = [fit(series) for fit in ENSEMBLE_MEMBERS.values()]
    return np.median([f[0] for f in fits], axis=0), np.median([f[1] for f in fits], axis=0)


CANDIDATES: dict[str, Callable[[pd.Series], Fit]] = {**ENSEMBLE_MEMBERS, "median_ensemble": median_ensemble,
                                                     "busy_days": busy_days}

PARAMS = {
    "legacy_arima": {"order": "(2, 0, 2)", "seasonal_order": "none", "transform": "none"},
    "holt_winters": {"order": "ETS(A,N,A)", "seasonal_order": "weekly additive", "transform": "none"},
    "holt_winters_log": {"order": "ETS(A,N,A)", "seasonal_order": "weekly additive", "transform": "log1p"},
    "weekly_profile": {"order": f"median of last {PROFILE_WEEKS} weeks", "seasonal_order": "weekday", "transform": "none"},
    "median_ensemble": {"order": "median of " + ", ".join(ENSEMBLE_MEMBERS),
                        "seasonal_order": "weekly", "transform": "mixed"},
    "busy_days": {"order": f"busy or quiet days: chance half-life {BUSY_HALF_LIFE_WEEKS} weeks, amounts "
                           f"{AMOUNT_HALF_LIFE_WEEKS} weeks", "seasonal_order": "workdays, weekends, month ends",
                  "transform": "none"},
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
                path, _ = MODELS[name](train)
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
        backtests[name] = backtest(lambda train, steps, name=name: paths(name, train)[:steps], series)
        progress(f"  {name:<18} MASE {backtests[name].metrics['mase']:.3f}  ({time.perf_counter() - started:.1f} s)")
    chosen = min(CANDIDATES, key=lambda name: backtests[name].metrics["mase"])
    return Selection(chosen=chosen, backtests=backtests, paths=paths)
