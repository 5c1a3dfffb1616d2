"""Benchmark: backtest MASE and wall time of the reference model's selection+fit against pmdarima's
default seasonal `auto_arima` (m=7), the legacy ARIMA(2,0,2) and the baselines; and the prediction
intervals of the reference model against statsforecast's AutoETS with its own intervals.

Same run, same machine, same series: the bundled simulated window and, when ../shared is present,
the real AdventureWorks window. Writes bench/results/forecast.json and prints Markdown tables.

Intervals: `ORIGINS` rolling origins 7 days apart, the last one 28 days before the end of the window,
each forecasting 28 days. At each origin the reference model is trained as `train` does (selection,
fit, calibration on the days before the origin) and AutoETS (season 7) is fitted on the same days.
Per nominal level (80/90/95%): coverage, mean width and mean Winkler score over all origins' days;
and the same origins' 28-day MASE (scaled by each origin's in-sample weekly seasonal naive MAE).
The previous bands (quantiles of the last 12 weeks' in-sample residuals, one width at every horizon)
are scored on the same origins for comparison. AutoETS needs the `bench` extra (statsforecast).

    .venv/bin/python bench/forecast.py [--skip-auto-arima-backtest] [--intervals-only]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from datetime import UTC, datetime

import numpy as np
from common import REAL, ROOT, auto_arima_path, this_machine

from solution import forecast
from solution.evaluate import accuracy, backtest, interval_accuracy
from wth import data
from wth.protocol import seasonal_naive_scale

ORIGINS, HORIZON, SPACING = 24, 28, 7
LEVELS = (0.8, 0.9, 0.95)
PREVIOUS_WEEKS = 12  # the previous bands: in-sample residuals of the last 12 weeks


def measure(name: str, series, with_auto_arima_backtest: bool) -> dict:
    print(f"\n{name}: {len(series)} days {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d}", flush=True)
    started = time.perf_counter()
    selection = forecast.select(series, progress=lambda line: print(line, flush=True))
    forecast.fit(selection.chosen, series)
    reference_seconds = time.perf_counter() - started

    started = time.perf_counter()
    auto_arima_path(series.to_numpy(), 7)
    auto_seconds = time.perf_counter() - started
    print(f"  auto_arima (m=7) one fit: {auto_seconds:.1f} s", flush=True)

    models = {key: round(bt.metrics["mase"], 4) for key, bt in selection.backtests.items()}
    if with_auto_arima_backtest:
        bt = backtest(lambda train, steps: auto_arima_path(train.to_numpy(), steps), series)
        models["pmdarima_auto_arima"] = round(bt.metrics["mase"], 4)
        print(f"  pmdarima_auto_arima MASE {models['pmdarima_auto_arima']:.3f}", flush=True)
    return {
        "series": name,
        "days": len(series),
        "window": [f"{series.index[0]:%Y-%m-%d}", f"{series.index[-1]:%Y-%m-%d}"],
        "chosen": selection.chosen,
        "reference_mase": models[selection.chosen],
        "backtest_mase": models,
        "reference_selection_and_fit_seconds": round(reference_seconds, 2),
        "auto_arima_fit_seconds": round(auto_seconds, 2),
        "speedup_vs_auto_arima": round(auto_seconds / reference_seconds, 1),
    }


def previous_residuals(name: str, train) -> np.ndarray:
    """The in-sample residuals of the last PREVIOUS_WEEKS weeks, that the bands served before were made of."""
    values = train.to_numpy(dtype=float)
    residuals = (values - np.asarray(forecast.MODELS[name](train)[1], dtype=float))[-PREVIOUS_WEEKS * 7 :]
    return residuals[np.isfinite(residuals)]


def previous_bands(residuals: np.ndarray, path: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The bands this project served before: in-sample residual quantiles added at every horizon."""
    low, high = np.quantile(residuals, [(1 - level) / 2, (1 + level) / 2])
    return np.maximum(path + min(low, 0.0), 0.0), path + max(high, 0.0)


def scores(rows: list[dict]) -> dict:
    """Pool per-origin (actual, lower, upper) by level into coverage/width/Winkler, plus mean MASE."""
    out = {"mase": round(float(np.mean([r["mase"] for r in rows])), 4)}
    for level in LEVELS:
        key = f"{level:.0%}"
        got = interval_accuracy(np.concatenate([r["actual"] for r in rows]),
                                np.concatenate([r["bands"][key][0] for r in rows]),
                                np.concatenate([r["bands"][key][1] for r in rows]), level)
        out[key] = {"coverage": round(got["coverage"], 4), "mean_width": round(got["width"], 1),
                    "mean_winkler": round(got["winkler"], 1)}
    return out


def measure_intervals(name: str, series) -> dict:
    from statsforecast.models import AutoETS

    started = time.perf_counter()
    selection = forecast.select(series)
    forecast.fit(selection.chosen, series, selection.paths)
    train_seconds = time.perf_counter() - started  # what `train` spends: selection, fit and calibration
    reference, previous, ets, chosen = [], [], [], []
    started = time.perf_counter()
    for k in reversed(range(ORIGINS)):
        origin = len(series) - HORIZON - SPACING * k
        train, actual = series.iloc[:origin], series.iloc[origin : origin + HORIZON].to_numpy()
        scale = seasonal_naive_scale(train.to_numpy())
        selection = forecast.select(train)
        fitted = forecast.fit(selection.chosen, train, selection.paths)
        chosen.append(selection.chosen)
        point = fitted.predict(HORIZON)["forecast"].to_numpy()
        row = {"actual": actual, "mase": accuracy(actual, point, scale)["mase"], "bands": {}}
        old = {"actual": actual, "mase": row["mase"], "bands": {}}
        residuals = previous_residuals(selection.chosen, train)  # one in-sample fit for the three levels
        for level in LEVELS:
            bands = fitted.predict(HORIZON, level)
            row["bands"][f"{level:.0%}"] = (bands["lower"].to_numpy(), bands["upper"].to_numpy())
            old["bands"][f"{level:.0%}"] = previous_bands(residuals, point, level)
        reference.append(row)
        previous.append(old)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoETS(season_length=7).fit(train.to_numpy(dtype=float))
            predicted = model.predict(HORIZON, level=[round(level * 100) for level in LEVELS])
        ets.append({"actual": actual, "mase": accuracy(actual, predicted["mean"], scale)["mase"],
                    "bands": {f"{level:.0%}": (predicted[f"lo-{round(level * 100)}"], predicted[f"hi-{round(level * 100)}"])
                              for level in LEVELS}})
        print(f"  origin {train.index[-1] + np.timedelta64(1, 'D'):%Y-%m-%d}: {selection.chosen:<16} "
              f"MASE {row['mase']:.3f}  AutoETS {ets[-1]['mase']:.3f}", flush=True)
    first = series.index[len(series) - HORIZON - SPACING * (ORIGINS - 1)]
    return {
        "series": name,
        "origins": ORIGINS,
        "first_origin": f"{first:%Y-%m-%d}",
        "last_origin": f"{series.index[len(series) - HORIZON]:%Y-%m-%d}",
        "horizon_days": HORIZON,
        "chosen_models": {m: chosen.count(m) for m in sorted(set(chosen))},
        "reference": scores(reference),
        "reference_previous_bands": scores(previous),
        "autoets": scores(ets),
        "reference_selection_fit_and_calibration_seconds": round(train_seconds, 2),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-auto-arima-backtest", action="store_true",
                        help="time auto_arima once per series but do not backtest it (4 more fits each)")
    parser.add_argument("--intervals-only", action="store_true",
                        help="measure only the interval section; the point section (and its machine and "
                             "time) is kept as the previous run of this script wrote it")
    args = parser.parse_args()
    series = {"bundled (simulated)": data.daily_series(data.read_transactions(data.bundled_file()))[0]}
    if REAL.exists():
        series["real AdventureWorks"] = data.daily_series(data.read_transactions(REAL))[0]
    else:
        print(f"note: {REAL} is absent; the real series is not measured")
    target = ROOT / "bench" / "results" / "forecast.json"
    machine = this_machine()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    if args.intervals_only:
        previous = json.loads(target.read_text())
        measured_at, machine, results = previous["measured_at"], previous["machine"], previous["results"]
    else:
        results = [measure(name, s, not args.skip_auto_arima_backtest) for name, s in series.items()]
    intervals_machine = {**machine, "load_average_at_start": os.getloadavg()}
    intervals_measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    intervals = []
    for name, s in series.items():
        print(f"\nintervals, {name}: {ORIGINS} origins x {HORIZON} days", flush=True)
        intervals.append(measure_intervals(name, s))
    out = {
        "benchmark": "forecast",
        "measured_at": measured_at,
        "machine": machine,
        "protocol": "rolling origin, 4 folds x 7 days over the last 28 days, MASE scaled by each fold's "
                    "in-sample weekly seasonal naive",
        "results": results,
        "interval_protocol": f"{ORIGINS} rolling origins {SPACING} days apart, the last {HORIZON} days before the "
                             f"window's end, {HORIZON}-day horizon; the reference model selected, fitted and "
                             "calibrated on the days before each origin; AutoETS(season_length=7) of "
                             "statsforecast with its own intervals; Winkler score = width + 2/alpha * miss",
        "intervals_measured_at": intervals_measured_at,
        "intervals_machine": intervals_machine,
        "intervals": intervals,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=2) + "\n")
    print("\n| series | chosen | MASE | seasonal naive | legacy ARIMA | auto_arima | selection+fit s | auto_arima fit s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        m = r["backtest_mase"]
        print(f"| {r['series']} | {r['chosen']} | {r['reference_mase']:.3f} | {m['snaive']:.3f} | "
              f"{m['legacy_arima']:.3f} | {m.get('pmdarima_auto_arima', float('nan')):.3f} | "
              f"{r['reference_selection_and_fit_seconds']} | {r['auto_arima_fit_seconds']} | "
              f"{r['speedup_vs_auto_arima']}x |")
    print("\n| series | model | 28-day MASE | 80% coverage / width / Winkler | 90% | 95% |")
    print("|---|---|---|---|---|---|")
    for r in intervals:
        for label, key in (("reference", "reference"), ("reference, previous bands", "reference_previous_bands"),
                           ("AutoETS", "autoets")):
            m = r[key]
            cells = " | ".join(f"{m[lv]['coverage']:.1%} / {m[lv]['mean_width']:.0f} / {m[lv]['mean_winkler']:.0f}"
                               for lv in ("80%", "90%", "95%"))
            print(f"| {r['series']} | {label} | {m['mase']:.3f} | {cells} |")
    print(f"\nwritten to {target}")


if __name__ == "__main__":
    main()
