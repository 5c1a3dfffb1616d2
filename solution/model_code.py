"""The registered model's code: a `Forecast`, its artifact format and the MLflow pyfunc around it.

MLflow logs this one file with every model ("model from code") and runs it to load the model, so it
must import nothing beyond the standard library, numpy, pandas and mlflow: the model's declared
requirements. No statsmodels, no `solution` package: the model loads wherever its `requirements.txt`
is installed (`mlflow models serve`, an Azure ML environment built from the model, a batch job). The
training side (solution/forecast.py) builds its `Forecast` objects from this module.

A forecast from a fixed origin is a fixed path, so the model is data (`forecast.json`): the point
path for `MAX_STEPS` days after the training end, the rolling-origin forecast errors, and, for a
model that forecasts a distribution of its own (`Mixture`), that distribution with the levels its
rolling origins needed: they give the prediction intervals (see `Forecast.predict`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import set_model

MAX_STEPS = 365  # the endpoint contract's limit (wth.contract.MAX_STEPS): this file may import nothing of ours
WEEK = 7  # a mixture's levels are calibrated by week of the horizon: each week holds every weekday once


def _rank(n: int, q: float) -> int:
    """The split-conformal rank (1-based) of the `q` quantile of n scores: ceil((n + 1) q), at most n."""
    return min(math.ceil((n + 1) * q - 1e-9), n)


def _conformal(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The weighted split-conformal `q` quantile of `values` (Barber et al. 2023): the smallest value whose
    weight, with every smaller one's, reaches q of the total plus 1 (the weight of the day to come); the
    largest value if none does. With equal weights 1 it is the value of rank `_rank(n, q)`."""
    order = np.argsort(values, kind="stable")
    reached = np.cumsum(weights[order]) >= q * (weights.sum() + 1) - 1e-9
    return float(values[order][np.argmax(reached) if reached.any() else -1])


def _non_decreasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of `values` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for value, weight in zip(values, weights):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight, length = blocks.pop()
            previous = blocks[-1]
            total = previous[1] + weight
            previous[0] = (previous[0] * previous[1] + mean * weight) / total if total > 0 else mean
            previous[1], previous[2] = total, previous[2] + length
    return np.concatenate([np.full(int(length), mean) for mean, _, length in blocks])


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose share of the total weight, with every smaller one, reaches `q`."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cumulative, q), len(values) - 1)])


def _share(values: np.ndarray, weights: np.ndarray, x: np.ndarray, strict: bool) -> np.ndarray:
    """The share of the total weight on values below `x` (`strict`) or at most `x`, for each x."""
    if len(values) == 0:
        return np.zeros(len(x))
    order = np.argsort(values)
    cumulative = np.concatenate([[0.0], np.cumsum(weights[order]) / weights.sum()])
    return cumulative[np.searchsorted(values[order], x, side="left" if strict else "right")]


@dataclass
class Mixture:
    """A day's amount as a mix of two kinds of days: busy with chance `chance[h]` on day h, else quiet.
    Each kind's amounts are weighted samples (`busy`, `quiet`: values and their weights); every busy
    amount is above every quiet one.

    `levels[k, h]`, when known, is the smallest central level of the k-th rolling origin's own mixture
    (k + 1 weeks before the training end) whose interval held the actual day h + 1 after that origin
    (NaN past the training end): how far out the days really fell, by horizon step (see `central`). A
    mixture without them (an artifact from before they were recorded, or fitted on too few days to have
    any) gives its plain central quantiles. `half_life` (weeks), when set, weights the k-th origin's
    levels by 0.5 ** (k / half_life): the recent origins count most (artifacts before it: equal weights)."""

    chance: np.ndarray
    busy: tuple[np.ndarray, np.ndarray]
    quiet: tuple[np.ndarray, np.ndarray]
    levels: np.ndarray | None = None
    half_life: float | None = None

    def quantile(self, q) -> np.ndarray:
        """The `q` quantile of every day (`q` one number, or one per day): with a chance p of busy, the
        q / (1 - p) quantile of the quiet amounts when q <= 1 - p, else the (q - (1 - p)) / p quantile of
        the busy ones."""

        def of(p: float, q: float) -> float:
            if p < 1 and q <= 1 - p:
                return weighted_quantile(*self.quiet, q / (1 - p))
            return weighted_quantile(*self.busy, (q - (1 - p)) / p)

        pairs = list(zip(self.chance, np.broadcast_to(np.asarray(q, dtype=float), self.chance.shape)))
        by_pair = {pair: of(*pair) for pair in set(pairs)}
        return np.array([by_pair[pair] for pair in pairs])

    def held(self, actual: np.ndarray) -> np.ndarray:
        """For each of the first len(`actual`) days, the smallest central level whose interval (`quantile`
        at (1 - level) / 2 and (1 + level) / 2) holds that day's actual amount, rounded up to 1e-6 (the
        artifact's precision: the interval at that level still holds it)."""
        actual = np.asarray(actual, dtype=float)
        p = self.chance[: len(actual)]
        median = self.quantile(0.5)[: len(actual)]

        def share(strict: bool) -> np.ndarray:
            return (1 - p) * _share(*self.quiet, actual, strict) + p * _share(*self.busy, actual, strict)

        level = np.where(actual >= median, 2 * share(strict=True) - 1, 1 - 2 * share(strict=False))
        return np.clip(np.ceil((level + 1e-9) * 1e6) / 1e6, 0.0, 1.0)

    def central(self, interval: float) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper bounds of every day's `interval`: the mixture's central quantiles, at the
        level its rolling origins needed to hold `interval` of their days in that week of the horizon.

        For week w: the weighted split-conformal `interval` quantile of `levels` in that week (`_conformal`,
        each origin's levels weighted by recency, see `half_life`: under a drifting series the recent
        origins say most about the days to come); made non-decreasing over the weeks (isotonic fit,
        weighted by the weeks' total weights), so that the bands widen with the horizon as far as the
        days needed it; days past the calibrated weeks take the last week's level."""
        level = np.full(len(self.chance), interval)
        if self.levels is not None and np.isfinite(self.levels).any():
            weeks = self.levels.shape[1] // WEEK
            ages = np.arange(len(self.levels), dtype=float)[:, None]
            weight = np.broadcast_to(1.0 if self.half_life is None else 0.5 ** (ages / self.half_life), self.levels.shape)
            held = [(week[np.isfinite(week)], of[np.isfinite(week)])
                    for week, of in zip(np.split(self.levels[:, : weeks * WEEK], weeks, axis=1),
                                        np.split(weight[:, : weeks * WEEK], weeks, axis=1))]
            by_week = _non_decreasing(np.array([_conformal(week, of, interval) if len(week) else 0.0 for week, of in held]),
                                      np.array([of.sum() for _, of in held]))
            level = np.resize(np.repeat(by_week, WEEK), len(self.chance))
            level[weeks * WEEK :] = by_week[-1]
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)


@dataclass
class Forecast:
    """A fitted model reduced to what serving needs: its forecast path, calibration errors and, for a
    model that forecasts a distribution, that distribution for the `MAX_STEPS` days.

    `errors[k, h]` is actual minus forecast `h + 1` days after the k-th rolling origin of the
    training data (NaN where that day lies past the training end): out-of-sample errors, by horizon.
    They give the intervals of a model without a `mixture`; with one they are kept as its record.
    """

    model: str
    params: dict
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    path: np.ndarray
    errors: np.ndarray = field(repr=False)
    mixture: Mixture | None = field(default=None, repr=False)

    def predict(self, steps: int, interval: float | None = None) -> pd.DataFrame:
        """`steps` days after the training end: forecast, and lower/upper bounds when `interval` is set.

        A model with a `mixture` gives each day's central interval of that distribution (`Mixture.central`:
        at the level its rolling origins needed, by week of the horizon). For any other model the bounds are split-conformal, scaled by
        horizon, from the rolling-origin errors:
        - the scale s(h) of step h is the mean absolute error at h made non-decreasing in h
          (isotonic fit), so bands widen with the horizon as the errors do;
        - every error is divided by its step's scale, and the two-sided conformal quantiles of all
          those scores (finite-sample corrected: rank ceil((n+1)(1+interval)/2) of n) times s(h) are
          the offsets below and above the point forecast: asymmetric when the errors are skewed;
        - past the last calibrated step H the scale grows as s(H) * sqrt(h / H) (a random-walk
          assumption: uncalibrated, and wider rather than narrower);
        - the interval always contains the point forecast and `lower` is clipped at 0 (amounts are
          never negative).
        """
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be within 1..{MAX_STEPS}")
        dates = pd.date_range(self.train_end + pd.Timedelta(days=1), periods=steps, freq="D", name="date")
        frame = pd.DataFrame({"forecast": np.maximum(self.path[:steps], 0.0)}, index=dates)
        if interval is not None:
            if not 0 < interval < 1:
                raise ValueError("interval must be a probability between 0 and 1")
            if self.mixture is not None:
                below, above = self.mixture.central(interval)
                lower, upper = np.minimum(below[:steps], frame["forecast"]), np.maximum(above[:steps], frame["forecast"])
            else:
                below, above = self.offsets(interval)
                lower, upper = frame["forecast"] + below[:steps], frame["forecast"] + above[:steps]
            frame["lower"], frame["upper"] = np.maximum(lower, 0.0), upper
        return frame

    def scale(self) -> np.ndarray:
        """s(h) for h = 1..MAX_STEPS (see `predict`)."""
        errors = np.atleast_2d(np.asarray(self.errors, dtype=float))
        seen = np.isfinite(errors)
        counts = seen.sum(axis=0)
        calibrated = int(np.flatnonzero(counts)[-1]) + 1 if counts.any() else 0
        if calibrated == 0:
            raise ValueError(f"model {self.model!r} has no calibration errors: it cannot give intervals")
        counts = counts[:calibrated]
        mae = np.where(counts > 0, np.nansum(np.abs(errors[:, :calibrated]), axis=0) / np.maximum(counts, 1), 0.0)
        scale = _non_decreasing(mae, counts)
        beyond = scale[-1] * np.sqrt(np.arange(calibrated + 1, MAX_STEPS + 1) / calibrated)
        return np.concatenate([scale, beyond])[:MAX_STEPS]

    def offsets(self, interval: float) -> tuple[np.ndarray, np.ndarray]:
        """(below <= 0, above >= 0): what the `interval` bounds add to the point forecast, by step."""
        scale = self.scale()
        errors = np.atleast_2d(np.asarray(self.errors, dtype=float))
        step_scale = scale[: errors.shape[1]]
        usable = np.isfinite(errors) & (step_scale > 0)
        scores = (errors / np.where(step_scale > 0, step_scale, 1.0))[usable]
        if len(scores) == 0:  # every calibration error was 0: a perfect fit so far
            return np.zeros(MAX_STEPS), np.zeros(MAX_STEPS)
        scores = np.sort(scores)
        n = len(scores)
        rank = _rank(n, (1 + interval) / 2)  # from either end
        low, high = min(float(scores[n - rank]), 0.0), max(float(scores[rank - 1]), 0.0)
        return low * scale, high * scale


def _rounded(values) -> list:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in np.asarray(values, dtype=float)]


def to_json(forecast: Forecast) -> dict:
    mixture = forecast.mixture
    return {
        "model": forecast.model,
        "params": forecast.params,
        "train_start": f"{forecast.train_start:%Y-%m-%d}",
        "train_end": f"{forecast.train_end:%Y-%m-%d}",
        "path": _rounded(forecast.path),
        "errors": [_rounded(row) for row in np.atleast_2d(forecast.errors)],
        "mixture": None if mixture is None else {
            "chance": _rounded(mixture.chance),
            **{kind: [_rounded(part) for part in getattr(mixture, kind)] for kind in ("busy", "quiet")},
            "levels": None if mixture.levels is None else [_rounded(row) for row in mixture.levels],
            "half_life": mixture.half_life,
        },
    }


def _matrix(rows: list) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def from_json(data: dict) -> Forecast:
    mixture = data.get("mixture")
    return Forecast(
        model=data["model"],
        params=data["params"],
        train_start=pd.Timestamp(data["train_start"]),
        train_end=pd.Timestamp(data["train_end"]),
        path=np.asarray(data["path"], dtype=float),
        errors=_matrix(data["errors"]),
        mixture=None if mixture is None else Mixture(
            chance=np.asarray(mixture["chance"], dtype=float),
            **{kind: tuple(np.asarray(part, dtype=float) for part in mixture[kind]) for kind in ("busy", "quiet")},
            levels=None if mixture.get("levels") is None else _matrix(mixture["levels"]),
            half_life=mixture.get("half_life"),
        ),
    )


class ForecastModel(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with a `steps` column (one row) and an optional `interval` column.
    Output: a DataFrame with `date`, `forecast` and, with an interval, `lower` and `upper`."""

    def load_context(self, context) -> None:
        self.forecast = from_json(json.loads(Path(context.artifacts["forecast"]).read_text()))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        row = model_input.iloc[0]
        interval = row.get("interval")
        interval = None if interval is None or pd.isna(interval) else float(interval)
        return self.forecast.predict(int(row["steps"]), interval).reset_index()


# MLflow runs this file to load a model and takes the model registered here (importing the module
# from the package, as training does, registers one too: harmless, nothing reads it there)
set_model(ForecastModel())
