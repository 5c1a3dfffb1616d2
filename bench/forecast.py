"""Benchmark: backtest MASE and wall time of the reference model's selection+fit against pmdarima's
default seasonal `auto_arima` (m=7), the legacy ARIMA(2,0,2) and the baselines.

Same run, same machine, same series: the bundled simulated window and, when ../shared is present,
the real AdventureWorks window. Writes bench/results/forecast.json and prints a Markdown table.

    .venv/bin/python bench/forecast.py [--skip-auto-arima-backtest]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pmdarima

from solution import forecast
from solution.evaluate import backtest
from wth import data

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "adventureworks" / "TransactionHistory.csv"


def auto_arima_path(values: np.ndarray, steps: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pmdarima.auto_arima(values, m=7, seasonal=True, suppress_warnings=True, error_action="ignore")
    return np.asarray(model.predict(steps))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-auto-arima-backtest", action="store_true",
                        help="time auto_arima once per series but do not backtest it (4 more fits each)")
    args = parser.parse_args()
    series = {"bundled (simulated)": data.daily_series(data.read_transactions(data.BUNDLED_FILE))[0]}
    if REAL.exists():
        series["real AdventureWorks"] = data.daily_series(data.read_transactions(REAL))[0]
    else:
        print(f"note: {REAL} is absent; the real series is not measured")
    results = [measure(name, s, not args.skip_auto_arima_backtest) for name, s in series.items()]
    out = {
        "benchmark": "forecast",
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "load_average_at_start": os.getloadavg()},
        "protocol": "rolling origin, 4 folds x 7 days over the last 28 days, MASE scaled by each fold's "
                    "in-sample weekly seasonal naive",
        "results": results,
    }
    target = ROOT / "bench" / "results" / "forecast.json"
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
    print(f"\nwritten to {target}")


if __name__ == "__main__":
    main()
