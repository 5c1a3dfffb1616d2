"""The coach's ground truth for C3.4, and the MASE the grader computes itself.

The truth is a daily series (the hack's definition: daily mean of Quantity*ActualCost) covering the
hack window AND the holdout days, so the seasonal naive baseline can start from whatever day a
team's model was trained to. The data and the simulator are read with the hack's shared helpers
(`wth.data`, `wth.simulate`), the ones the teams' tools use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wth.config import SEASON
from wth.protocol import seasonal_naive_scale

from .not_gradable import NotGradable
from .teams import Holdout

_cache: dict[tuple, Truth] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Truth:
    series: pd.Series  # daily actuals, window + holdout
    start: pd.Timestamp  # first holdout day
    end: pd.Timestamp  # last holdout day
    label: str
    public: bool


def _rows(holdout: Holdout) -> pd.DataFrame:
    from wth import simulate
    from wth.data import read_transactions

    history = [read_transactions(holdout.history)] if holdout.history else [simulate.window_rows()]
    if holdout.kind == "file":
        if not os.path.exists(holdout.file):
            raise NotGradable(f"the holdout file {holdout.file} does not exist (teams file: holdout.file)")
        return pd.concat([*history[: bool(holdout.history)], read_transactions(holdout.file)], ignore_index=True)
    if holdout.kind == "seed":
        seed = holdout.seed if holdout.seed is not None else os.environ.get(holdout.seed_env or "", "")
        if not str(seed).strip().lstrip("-").isdigit():
            raise NotGradable(f"the holdout seed is not set: export {holdout.seed_env}=<an integer only the coach knows>")
        return pd.concat([*history, simulate.holdout_rows(int(seed), holdout.start, holdout.days)], ignore_index=True)
    return pd.concat([*history, simulate.batch_rows(drifted=False)], ignore_index=True)


def truth(holdout: Holdout) -> Truth:
    """The holdout's series (computed once per process and holdout setting)."""
    from wth.data import daily_series, span
    from wth.errors import UsageError

    seed_value = os.environ.get(holdout.seed_env, "") if holdout.seed_env else holdout.seed
    key = (holdout, seed_value)
    with _lock:
        if key not in _cache:
            start = pd.Timestamp(holdout.start)
            end = start + pd.Timedelta(days=holdout.days - 1)
            try:
                rows = _rows(holdout)
                series, _ = daily_series(rows, span(rows)[0], f"{end:%Y-%m-%d}")
            except UsageError as err:
                raise NotGradable(f"the coach's holdout cannot be read: {err}") from None
            if series.index[-1] < end:
                raise NotGradable(f"the holdout data ends {series.index[-1]:%Y-%m-%d}, before the holdout's last day {end:%Y-%m-%d}")
            _cache[key] = Truth(series, start, end, holdout.label, holdout.kind == "public")
        return _cache[key]


def mase_against_snaive(truth: Truth, origin: pd.Timestamp, forecast: pd.Series) -> dict:
    """MASE of `forecast` (indexed by date, starting the day after `origin`) and of the weekly
    seasonal naive from the same origin, on the holdout days after the origin; both scaled by the
    in-sample seasonal naive MAE of the actuals up to the origin."""
    history = truth.series[: origin]
    if len(history) <= 4 * SEASON:
        raise NotGradable(f"the holdout history has only {len(history)} days up to the model's origin {origin:%Y-%m-%d}")
    days = pd.date_range(max(truth.start, origin + pd.Timedelta(days=1)), truth.end, freq="D")
    if len(days) < SEASON:
        raise NotGradable(f"the served model is trained to {origin:%Y-%m-%d}: fewer than {SEASON} holdout days "
                          f"({truth.start:%Y-%m-%d}..{truth.end:%Y-%m-%d}) lie after it; set a later holdout.start")
    actual = truth.series.reindex(days).to_numpy(dtype=float)
    predicted = forecast.reindex(days).to_numpy(dtype=float)
    if np.isnan(predicted).any():
        missing = days[np.isnan(predicted)]
        raise ValueError(f"the forecast has no value for {missing[0]:%Y-%m-%d}")
    last_week = history.to_numpy(dtype=float)[-SEASON:]
    steps = (days - origin).days.to_numpy() - 1  # 0 = the first day after the origin
    snaive = last_week[steps % SEASON]
    scale = seasonal_naive_scale(history)
    mase, snaive_mase = float(np.mean(np.abs(actual - predicted)) / scale), float(np.mean(np.abs(actual - snaive)) / scale)
    return {
        "mase": round(mase, 4),
        "snaive_mase": round(snaive_mase, 4),
        "relative_mase": round(mase / snaive_mase, 4) if snaive_mase > 0 else float("inf"),
        "days": len(days),
        "first_day": f"{days[0]:%Y-%m-%d}",
        "last_day": f"{days[-1]:%Y-%m-%d}",
        "origin": f"{origin:%Y-%m-%d}",
    }
