"""Challenge 02: the build pipeline as one recorded pipeline run, a step per child run.

    python -m forecasting.build --source resources/data/TransactionHistory.csv.gz --train-end 2013-12-31

acquire (copy the data into the workspace), validate, train, evaluate (our model must beat the seasonal
naive and the legacy ARIMA), register with lineage tags. A failed step fails the run: nothing is
registered.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import mlflow

from .data import daily_series, read_transactions
from .train import fit_and_log, register
from .workspace import WORKSPACE, ci_tags, connect, pipeline, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a TransactionHistory file")
    parser.add_argument("--train-end", default="2013-12-31")
    args = parser.parse_args()
    connect()
    with pipeline("build"):
        with step("acquire"):
            data = WORKSPACE / "data" / args.source.name
            data.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.source, data)
            mlflow.log_param("source", str(args.source))
        with step("validate"):
            series = daily_series(read_transactions(data), end=args.train_end)
            if series.isna().any():
                raise SystemExit(f"the daily series has {int(series.isna().sum())} gaps left")
        trained = fit_and_log(data, args.train_end, tags={"wth.step": "train"})
        with step("evaluate"):
            metrics = trained.metrics
            gate = {"seasonal naive": metrics["baseline_snaive_mase"], "legacy ARIMA": metrics["legacy_arima_mase"]}
            beaten = [name for name, mase in gate.items() if metrics["mase"] >= mase]
            if beaten:
                raise SystemExit(f"MASE {metrics['mase']:.3f} does not beat the {' and the '.join(beaten)}")
        with step("register"):
            version = register(trained, **ci_tags())
    beats = ", ".join(f"the {name} {mase:.3f}" for name, mase in gate.items())
    print(f"build: MASE {metrics['mase']:.3f} beats {beats}; registered version {version}")


if __name__ == "__main__":
    main()
