"""The registered model's code: a `Forecast`, its artifact format and the MLflow pyfunc around it.

MLflow logs this one file with every model ("model from code") and runs it to load the model, so it
must import nothing beyond the standard library, numpy, pandas and mlflow: the model's declared
requirements. No statsmodels, no `solution` package: the model loads wherever its `requirements.txt`
is installed (`mlflow models serve`, an Azure ML environment built from the model, a batch job). The
training side (solution/forecast.py) builds its `Forecast` objects from this module.

A forecast from a fixed origin is a fixed path, so the model is data (`forecast.json`): the point
path for `MAX_STEPS` days after the training end, the rolling-origin forecast errors, and, for a
model that forecasts a distribution of its own (`Mixture`), that distribution: they give the
prediction intervals (see `Forecast.predict`).
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


@dataclass
class Mixture:
    """A day's amount as a mix of two kinds of days: busy with chance `chance[h]` on day h, else quiet.
    Each kind's amounts are weighted samples (`busy`, `quiet`: values and their weights)."""

    chance: np.ndarray
    busy: tuple[np.ndarray, np.ndarray]
    quiet: tuple[np.ndarray, np.ndarray]

    def quantile(self, q: float) -> np.ndarray:
        """The `q` quantile of every day: with a chance p of busy, the q / (1 - p) quantile of the quiet
        amounts when q <= 1 - p, else the (q - (1 - p)) / p quantile of the busy ones."""

        def of(p: float) -> float:
            if q <= 1 - p:
                return weighted_quantile(*self.quiet, q / (1 - p))
            return weighted_quantile(*self.busy, (q - (1 - p)) / p)

        by_chance = {p: of(p) for p in np.unique(self.chance)}
        return np.array([by_chance[p] for p in self.chance])


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

        A model with a `mixture` gives its central interval: the (1 - interval) / 2 and (1 + interval) / 2
        quantiles of each day's distribution. For any other model the bounds are split-conformal, scaled by
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
                lower = np.minimum(self.mixture.quantile((1 - interval) / 2)[:steps], frame["forecast"])
                upper = np.maximum(self.mixture.quantile((1 + interval) / 2)[:steps], frame["forecast"])
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
        rank = min(math.ceil((n + 1) * (1 + interval) / 2 - 1e-9), n)  # 1-based, from either end
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
        },
    }


def from_json(data: dict) -> Forecast:
    mixture = data.get("mixture")
    return Forecast(
        model=data["model"],
        params=data["params"],
        train_start=pd.Timestamp(data["train_start"]),
        train_end=pd.Timestamp(data["train_end"]),
        path=np.asarray(data["path"], dtype=float),
        errors=np.array([[np.nan if v is None else v for v in row] for row in data["errors"]], dtype=float),
        mixture=None if mixture is None else Mixture(
            chance=np.asarray(mixture["chance"], dtype=float),
            **{kind: tuple(np.asarray(part, dtype=float) for part in mixture[kind]) for kind in ("busy", "quiet")},
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
