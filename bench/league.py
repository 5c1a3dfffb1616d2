"""Benchmark: the league. The reference model against the seasonal naive, the legacy ARIMA(2,0,2) and
statsforecast's AutoETS, AutoARIMA and AutoTheta (season 7, the `bench` extra), in one run, on the real
AdventureWorks window: ORIGINS rolling origins SPACING days apart, the last one HORIZON days before the
window's end, every model refitted at each origin on the days before it and forecasting HORIZON days
(`wth.protocol.rolling_origin`, the loop training runs). At each origin the reference is trained as
`train` does: selection, fit and interval calibration on the days before it.

Beside the reference, `busy_days` is the same model without the selection (the candidate the reference
chooses most): what the choice by backtest costs or gains.

Per model: MASE (each origin scaled by its in-sample weekly seasonal naive MAE); relative MASE (its MAE
over the seasonal naive's at the same origin): mean, geometric mean, worst origin; wins (origins where it
has the lowest MAE of all; a tie goes to the model listed first). For the models with intervals, at
80/90/95% over every origin's days: coverage, mean width and mean Winkler score; their interval score is
the mean Winkler score of the three levels; for the reference, mean width and coverage by week of the
horizon. Lower bounds are clipped at 0 for every model (amounts are never negative: it narrows a band
and never uncovers an actual). Timed on the whole window after the league: the reference's selection +
fit (wall and CPU seconds), and one fit of pmdarima's `auto_arima` (m=7), both with one BLAS thread;
`auto_arima` runs in a child process given AUTO_ARIMA_LIMIT_S, and a fit that takes longer is recorded
as over that limit.

Writes bench/results/league.json and prints Markdown tables. `--models` runs some of the models only
(the seasonal naive always: the relative MASE needs it), prints the tables and writes nothing: for
trying a change without AutoARIMA's minutes.

    .venv/bin/python bench/league.py
    .venv/bin/python bench/league.py --models reference busy_days autoets
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from common import REAL, ROOT, auto_arima_path, this_machine
from threadpoolctl import threadpool_limits

from solution import forecast
from solution.evaluate import interval_accuracy
from wth import data, protocol

ORIGINS, HORIZON, SPACING = 24, 28, 7
LEVELS = (0.8, 0.9, 0.95)
ANCHORS = ("autoets", "autoarima", "autotheta")  # the statistical anchors the targets compare with
AUTO_ARIMA_LIMIT_S = 300

Bands = dict[float, tuple[np.ndarray, np.ndarray]]
Fit = Callable[[pd.Series, int], tuple[np.ndarray, Bands | None]]


class Contender:
    """A model of the league as `wth.protocol` calls it, keeping the bands it gave at each origin."""

    def __init__(self, fit: Fit) -> None:
        self.fit, self.bands = fit, []

    def __call__(self, train: pd.Series, steps: int) -> np.ndarray:
        point, bands = self.fit(train, steps)
        if bands is not None:
            self.bands.append({level: (np.maximum(low, 0.0), high) for level, (low, high) in bands.items()})
        return np.asarray(point, dtype=float)


def reference(chosen: list[str], model: str | None = None) -> Fit:
    """Trained as `train` does: selection (unless `model` is given), fit and calibration on `train`."""

    def fit(train: pd.Series, steps: int):
        if model:
            fitted = forecast.fit(model, train)
        else:
            selection = forecast.select(train)
            fitted = forecast.fit(selection.chosen, train, selection.paths)
            chosen.append(selection.chosen)
        frames = {level: fitted.predict(steps, level) for level in LEVELS}
        return (fitted.predict(steps)["forecast"].to_numpy(),
                {level: (f["lower"].to_numpy(), f["upper"].to_numpy()) for level, f in frames.items()})

    return fit


def statsforecast_model(make: Callable[[], object]) -> Fit:
    def fit(train: pd.Series, steps: int):
        percents = [round(level * 100) for level in LEVELS]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = make().fit(train.to_numpy(dtype=float)).predict(steps, level=percents)
        return predicted["mean"], {level: (predicted[f"lo-{p}"], predicted[f"hi-{p}"]) for level, p in zip(LEVELS, percents)}

    return fit


def contenders(chosen: list[str]) -> dict[str, Contender]:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    return {
        "reference": Contender(reference(chosen)),
        "busy_days": Contender(reference(chosen, "busy_days")),
        "snaive": Contender(lambda train, steps: (protocol.seasonal_naive(train, steps), None)),
        "legacy_arima": Contender(lambda train, steps: (forecast.legacy_arima(train)[0][:steps], None)),
        "autoets": Contender(statsforecast_model(lambda: AutoETS(season_length=7))),
        "autoarima": Contender(statsforecast_model(lambda: AutoARIMA(season_length=7))),
        "autotheta": Contender(statsforecast_model(lambda: AutoTheta(season_length=7))),
    }


def geomean(values) -> float:
    return float(np.exp(np.mean(np.log(values))))


def intervals(folds: list[protocol.Fold], bands: list[Bands]) -> dict:
    actual = np.concatenate([fold.test.to_numpy(dtype=float) for fold in folds])
    out = {}
    for level in LEVELS:
        got = interval_accuracy(actual, np.concatenate([b[level][0] for b in bands]),
                                np.concatenate([b[level][1] for b in bands]), level)
        out[f"{level:.0%}"] = {"coverage": round(got["coverage"], 4), "mean_width": round(got["width"], 1),
                               "mean_winkler": round(got["winkler"], 1)}
    out["interval_score"] = round(float(np.mean([out[f"{level:.0%}"]["mean_winkler"] for level in LEVELS])), 1)
    return out


def by_week(folds: list[protocol.Fold], bands: list[Bands]) -> dict:
    """Mean width and coverage of each level's band in each week of the horizon, over the origins:
    does the band widen, and does it keep its promise farther out?"""
    weeks = range(HORIZON // 7)
    out = {}
    for level in LEVELS:
        low, high = (np.array([b[level][side] for b in bands]) for side in (0, 1))
        actual = np.array([fold.test.to_numpy(dtype=float) for fold in folds])
        inside = (actual >= low) & (actual <= high)
        out[f"{level:.0%}"] = {"mean_width": [round(float(np.mean((high - low)[:, 7 * w : 7 * w + 7])), 1) for w in weeks],
                               "coverage": [round(float(np.mean(inside[:, 7 * w : 7 * w + 7])), 4) for w in weeks]}
    return out


def _auto_arima_once(values: np.ndarray) -> None:
    with threadpool_limits(limits=1):
        auto_arima_path(values, 7)


def timing(series: pd.Series) -> dict:
    """Wall seconds of the reference's selection + fit and of one `auto_arima` fit on `series`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    selection = forecast.select(series)
    forecast.fit(selection.chosen, series, selection.paths)
    reference_seconds, reference_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    child = multiprocessing.get_context("spawn").Process(target=_auto_arima_once, args=(series.to_numpy(dtype=float),))
    started = time.perf_counter()
    child.start()
    child.join(AUTO_ARIMA_LIMIT_S)
    auto_arima_seconds = time.perf_counter() - started
    finished = child.exitcode == 0
    if child.is_alive():
        child.terminate()
        child.join()
    return {"chosen": selection.chosen, "reference_selection_and_fit_seconds": round(reference_seconds, 2),
            "reference_selection_and_fit_cpu_seconds": round(reference_cpu, 2),
            "auto_arima_fit_seconds": round(auto_arima_seconds, 1), "auto_arima_finished": finished,
            "auto_arima_limit_seconds": AUTO_ARIMA_LIMIT_S, "load_average_at_start": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description="the league: the reference against the statistical anchors")
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="these models only (and snaive); writes nothing")
    args = parser.parse_args()
    if not REAL.exists():
        raise SystemExit(f"{REAL} is absent: the league runs on the real table")
    series = data.daily_series(data.read_transactions(REAL))[0]
    machine, measured_at = this_machine(), datetime.now(UTC).isoformat(timespec="seconds")
    print(f"real AdventureWorks: {len(series)} days {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d}", flush=True)

    chosen: list[str] = []
    models = contenders(chosen)
    if args.models:
        if unknown := set(args.models) - set(models):
            raise SystemExit(f"unknown models {sorted(unknown)}: choose from {', '.join(models)}")
        models = {name: contender for name, contender in models.items() if name in {"snaive", *args.models}}
    folds, seconds = {}, {}
    for name, contender in models.items():
        started = time.perf_counter()
        with threadpool_limits(limits=1):  # as the reference fits: BLAS threads only spin on a busy 2-core machine
            folds[name] = protocol.rolling_origin(contender, series, ORIGINS, HORIZON, SPACING)
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"  {name:<13} {seconds[name]:6.1f} s", flush=True)

    mae = {name: np.array([fold.mase * fold.scale for fold in done]) for name, done in folds.items()}
    winners = Counter(min(mae, key=lambda name: mae[name][k]) for k in range(ORIGINS))
    results = {}
    for name, done in folds.items():
        relative = mae[name] / mae["snaive"]
        results[name] = {
            "mase_mean": round(float(np.mean([fold.mase for fold in done])), 4),
            "relative_mase_mean": round(float(relative.mean()), 4),
            "relative_mase_geomean": round(geomean(relative), 4),
            "relative_mase_worst": round(float(relative.max()), 4),
            "origins_beating_snaive": int(np.sum(relative < 1)),
            "wins": winners.get(name, 0),
            "relative_mase": [round(float(r), 4) for r in relative],
            "seconds": seconds[name],
        }
        if models[name].bands:
            results[name]["intervals"] = intervals(done, models[name].bands)
    if "autoets" in results:
        ets_score = results["autoets"]["intervals"]["interval_score"]
        for result in results.values():
            if "intervals" in result:
                result["intervals"]["interval_score_vs_autoets"] = round(result["intervals"]["interval_score"] / ets_score, 3)
    table(results)
    if args.models:
        print(f"reference chosen: {dict(sorted(Counter(chosen).items()))}; nothing written (--models)")
        return
    best_anchor = min(ANCHORS, key=lambda name: results[name]["relative_mase_geomean"])
    ref = results["reference"]
    timed = timing(series)
    print(f"whole window: selection + fit {timed['reference_selection_and_fit_seconds']} s "
          f"({timed['reference_selection_and_fit_cpu_seconds']} s CPU, {timed['chosen']}), "
          f"one auto_arima fit {timed['auto_arima_fit_seconds']} s"
          f"{'' if timed['auto_arima_finished'] else ' (stopped: over the limit)'}", flush=True)
    out = {
        "benchmark": "league",
        "measured_at": measured_at,
        "machine": machine,
        "load_average_at_end": os.getloadavg(),
        "series": {"name": "real AdventureWorks", "days": len(series),
                   "window": [f"{series.index[0]:%Y-%m-%d}", f"{series.index[-1]:%Y-%m-%d}"]},
        "protocol": f"wth.protocol.rolling_origin: {ORIGINS} origins {SPACING} days apart, the last {HORIZON} days "
                    f"before the window's end, {HORIZON}-day horizon, every model refitted on the days before each "
                    "origin; MASE scaled by each origin's in-sample weekly seasonal naive MAE; relative MASE = "
                    "MAE / the seasonal naive's MAE at the same origin; Winkler score = width + 2/alpha * miss; "
                    "lower bounds clipped at 0",
        "origins": [f"{done.test.index[0]:%Y-%m-%d}" for done in folds["reference"]],
        "models": results,
        "reference_chosen": dict(sorted(Counter(chosen).items())),
        "reference_by_week": by_week(folds["reference"], models["reference"].bands),
        "best_anchor": best_anchor,
        "reference_geomean_vs_best_anchor": round(ref["relative_mase_geomean"] / results[best_anchor]["relative_mase_geomean"], 3),
        "whole_window_timing": timed,
    }
    target = ROOT / "bench" / "results" / "league.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nreference chosen: {out['reference_chosen']}; geometric mean vs {best_anchor}: "
          f"{out['reference_geomean_vs_best_anchor']}x; by week: {out['reference_by_week']}")
    print(f"written to {target}")


def table(results: dict) -> None:
    print("\n| model | MASE | relative MASE, mean | geometric mean | worst origin | wins | 80% | 90% | 95% | interval score |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        iv = r.get("intervals")
        cells = (" | ".join(f"{iv[lv]['coverage']:.1%} / {iv[lv]['mean_winkler']:.0f}" for lv in ("80%", "90%", "95%"))
                 + f" | {iv['interval_score']:.0f} ({iv.get('interval_score_vs_autoets', float('nan')):.2f}x)") if iv else " |  |  | "
        print(f"| {name} | {r['mase_mean']:.3f} | {r['relative_mase_mean']:.3f} | {r['relative_mase_geomean']:.3f} | "
              f"{r['relative_mase_worst']:.3f} | {r['wins']} | {cells} |")


if __name__ == "__main__":
    main()
