"""Forecasting models: the data scientists' legacy ARIMA(2,0,2), the baselines, and the candidates
the reference model is chosen from by backtest.

Every model fits a daily series (its index gives the calendar) and returns its point forecast for
the next `MAX_STEPS` days from the end of the training data. `fit` turns that into a `Forecast`
(solution/model_code.py, the registered model's code): the path plus the model's rolling-origin errors
by horizon step, refitted at the calibration origins of solution/evaluate.py, that give its prediction
intervals, or, for a model in `DISTRIBUTIONS` (`busy_days`), the distribution of each day it forecasts,
whose central quantiles, at the levels its own rolling origins needed, are its intervals. A forecast
from a fixed origin is a fixed path, so the endpoint answers any horizon by slicing it: scoring costs
microseconds and needs no statsmodels object at serve time.
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

from .evaluate import CALIBRATION_HORIZON, MIXTURE_CALIBRATION_ORIGINS, Backtest, backtest, horizon_errors, horizon_mase, horizon_rows
from .model_code import MAX_STEPS, Forecast, Mixture

# Fits on a few hundred days gain nothing from BLAS threads, and on a busy 2-core machine OpenBLAS's
# spinning threads made model selection 10x slower (53 s vs 4.7 s measured): one thread it is.
ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1)
PROFILE_WEEKS = 8
BUSY_HALF_LIFE_WEEKS = 2  # how fast the chance of a busy workday or weekend day forgets, as the autumn-2013 pattern changed
WEEKDAY_HALF_LIFE_WEEKS = 4  # how fast a weekday's own busy share forgets: it has a seventh of the days
WEEKDAY_PRIOR_DAYS = 8  # how many days of its group's chance a weekday's own share starts from
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


def days_after(series: pd.Series, periods: int) -> pd.DatetimeIndex:
    return pd.date_range(series.index[-1] + pd.Timedelta(days=1), periods=periods, freq="D")


def month_turn(days: pd.DatetimeIndex) -> np.ndarray:
    """The first and the last day of every month: the reseller orders come at the month's turn."""
    return np.asarray(days.is_month_start | days.is_month_end)


def busy_mixture(series: pd.Series, days: pd.DatetimeIndex | None = None) -> Mixture:
    """Each of `days` (default: the MAX_STEPS days after the series) as a mix of busy days (purchase
    orders, or the month's reseller orders: a high daily mean) and quiet ones (only small sales):

    - the amounts of busy and of quiet days: two pools over every weekday, each day weighted by its
      age (weights halving every AMOUNT_HALF_LIFE_WEEKS);
    - the chance of a busy day, for a weekday that is no month's first or last day: the busy share of
      that weekday's days (weights halving every WEEKDAY_HALF_LIFE_WEEKS), starting from
      WEEKDAY_PRIOR_DAYS days at the chance of its group, workdays or weekends, in recent weeks
      (weights halving every BUSY_HALF_LIFE_WEEKS): a weekday's own habit (quiet Tuesdays), and a
      shift of the weekly pattern followed within weeks;
    - on a month's first or last day, at least the busy share of such days so far in its group
      ((busy + 1) / (days + 2), a count that starts at one half): the reseller orders.
    """
    y = _values(series)
    age_weeks = np.arange(len(y))[::-1] / SEASON
    busy = y > busy_threshold(y)
    amount_weights = 0.5 ** (age_weeks / AMOUNT_HALF_LIFE_WEEKS)
    if days is None:
        days = days_after(series, MAX_STEPS)
    chance = np.zeros(len(days))
    if busy.any():
        weekday, their_weekday = series.index.day_of_week.to_numpy(), days.day_of_week.to_numpy()
        turn, their_turn = month_turn(series.index), month_turn(days)
        group_weights = 0.5 ** (age_weeks / BUSY_HALF_LIFE_WEEKS)
        own_weights = 0.5 ** (age_weeks / WEEKDAY_HALF_LIFE_WEEKS)
        for weekend, group_days in ((False, range(5)), (True, range(5, 7))):
            group = ((weekday >= 5) == weekend) & ~turn
            share = np.sum(group_weights[busy & group]) / np.sum(group_weights[group]) if group.any() else busy.mean()
            for day in group_days:
                own = (weekday == day) & ~turn
                chance[their_weekday == day] = ((np.sum(own_weights[busy & own]) + WEEKDAY_PRIOR_DAYS * share)
                                                 / (np.sum(own_weights[own]) + WEEKDAY_PRIOR_DAYS))
            turns = turn & ((weekday >= 5) == weekend)
            ahead = their_turn & ((their_weekday >= 5) == weekend)
            chance[ahead] = np.maximum(chance[ahead], (np.sum(busy[turns]) + 1) / (np.sum(turns) + 2))
    return Mixture(chance=chance, busy=(y[busy], amount_weights[busy]), quiet=(y[~busy], amount_weights[~busy]))


def busy_days(series: pd.Series) -> Fit:
    """The median of each day's mix of busy and quiet days (`busy_mixture`): MASE is an absolute
    error, and the median minimises it; a mean would land between the two kinds, on a value the
    series almost never takes."""
    median = busy_mixture(series, series.index.append(days_after(series, MAX_STEPS))).quantile(0.5)  # one mixture: each day on its own
    return median[len(series):], median[: len(series)]


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
    "busy_days": {"order": f"busy or quiet days: chance half-life {BUSY_HALF_LIFE_WEEKS} weeks, by weekday "
                           f"{WEEKDAY_HALF_LIFE_WEEKS} weeks, amounts {AMOUNT_HALF_LIFE_WEEKS} weeks",
                  "seasonal_order": "weekdays, month turns",
                  "transform": "none"},
}

MODELS = {**BASELINES, **CANDIDATES}
DISTRIBUTIONS: dict[str, Callable[[pd.Series], Mixture]] = {"busy_days": busy_mixture}  # models whose intervals are their own


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
        mixture=calibrated(DISTRIBUTIONS[name], series) if name in DISTRIBUTIONS else None,
    )


def calibrated(distribution: Callable[..., Mixture], series: pd.Series) -> Mixture:
    """The `distribution` of the days after `series`, with the levels its rolling origins needed
    (`Mixture.levels`): at each origin, refitted on the days before it, the level that held each day;
    weighted by recency (`Mixture.half_life`)."""

    def held(train: pd.Series, seen: np.ndarray) -> np.ndarray:
        return distribution(train, days_after(train, len(seen))).held(seen)

    mixture = distribution(series)
    mixture.levels = horizon_rows(held, series, MIXTURE_CALIBRATION_ORIGINS)
    mixture.half_life = AMOUNT_HALF_LIFE_WEEKS  # the origins' levels forget as the amounts do
    return mixture


@ONE_BLAS_THREAD
def evaluate(name: str, series: pd.Series) -> Backtest:
    """Backtest model `name` on `series` with the project's protocol (the challenge-01 notebook uses it)."""
    paths = Paths()
    return backtest(lambda train, steps: paths(name, train)[:steps], series)


@dataclass
class Selection:
    """The outcome of model selection: every model's backtest, every candidate's MASE at the served
    horizon (`horizon_mase`) and the chosen candidate."""

    chosen: str
    backtests: dict[str, Backtest]
    horizon_mase: dict[str, float]
    paths: Paths = field(default_factory=Paths, repr=False)  # the fits behind the backtests


@ONE_BLAS_THREAD
def select(series: pd.Series, progress: Callable[[str], None] = lambda message: None) -> Selection:
    """Backtest every baseline and candidate; choose the candidate with the lowest MASE at the horizon
    the model serves (`horizon_mase`).

    Not the 4 x 7-day backtest's MASE (the run's logged figure): the model serves 28 days ahead, and
    four weeks of one-week-ahead errors are few and say nothing of the later weeks; the calibration
    origins give errors at every step served, from refits the chosen model's calibration needs anyway.
    Each model is fitted once per origin; the ensemble's forecasts are the median of its members'
    (the same numbers `median_ensemble` gives, without fitting the members a second time).
    """
    paths = Paths()
    backtests, scores = {}, {}
    for name in MODELS:
        started = time.perf_counter()
        def forecaster(train: pd.Series, steps: int, name: str = name) -> np.ndarray:
            return paths(name, train)[:steps]

        backtests[name] = backtest(forecaster, series)
        line = f"  {name:<18} MASE {backtests[name].metrics['mase']:.3f}"
        if name in CANDIDATES:
            scores[name] = horizon_mase(forecaster, series)
            line += f", {CALIBRATION_HORIZON} days ahead {scores[name]:.3f}"
        progress(f"{line}  ({time.perf_counter() - started:.1f} s)")
    chosen = min(CANDIDATES, key=scores.__getitem__)
    return Selection(chosen=chosen, backtests=backtests, horizon_mase=scores, paths=paths)
