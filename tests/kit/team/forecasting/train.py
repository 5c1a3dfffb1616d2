"""Challenge 01: one tracked training run of our model, registered as a version of the model.

    python -m forecasting.train --data starter/data/TransactionHistory.csv --train-end 2013-12-31

The run records the training data (a dataset input), the parameters, the backtest metrics of our
model and of the baselines, and the model. The first registered version becomes the champion.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow

from . import pyfunc
from .data import WINDOW, daily_series, data_file, read_transactions, sha256
from .model import BASELINES, PREFIXES, WEEKS, backtest, forecast, weekday_median
from .workspace import MODEL, champion, connect, promote


@dataclass
class Trained:
    run_id: str
    model_uri: str
    params: dict
    metrics: dict


def fit_and_log(path: Path, train_end: str, run_name: str = "train", tags: dict | None = None) -> Trained:
    """Backtest, fit and log our model on `path`'s series from the window's start to `train_end`."""
    path = Path(path).resolve()
    series = daily_series(read_transactions(path), WINDOW[0], train_end)
    with mlflow.start_run(run_name=run_name, nested=mlflow.active_run() is not None, tags=tags) as run:
        frame = series.reset_index()
        mlflow.log_input(mlflow.data.from_pandas(frame, source=str(path), name="daily-paid-amount"), context="training")
        params = {"model": "weekday_median", "weeks": WEEKS, "train_start": f"{series.index[0]:%Y-%m-%d}",
                  "train_end": f"{series.index[-1]:%Y-%m-%d}", "n_obs": len(series), "data_sha256": sha256(path),
                  "data_file": str(path)}
        mlflow.log_params(params)
        metrics = backtest(weekday_median, series)
        for name, baseline in BASELINES.items():
            metrics |= {PREFIXES[name] + key: value for key, value in backtest(baseline, series).items()}
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as folder:
            info = pyfunc.log(forecast(series, pyfunc.MAX_STEPS), Path(folder))
    return Trained(run.info.run_id, info.model_uri, params, metrics)


def register(trained: Trained, **tags: str) -> str:
    """A new version with its lineage tags; the champion when there is none yet."""
    client = mlflow.MlflowClient()
    version = mlflow.register_model(trained.model_uri, MODEL).version
    lineage = {"run_id": trained.run_id, "mase": f"{trained.metrics['mase']:.4f}",
               **{key: trained.params[key] for key in ("data_sha256", "train_start", "train_end", "n_obs")}, **tags}
    for key, value in lineage.items():
        client.set_model_version_tag(MODEL, version, key, str(value))
    if champion(client) is None:
        promote(client, version)
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_file(), help="a TransactionHistory file")
    parser.add_argument("--train-end", default="2013-12-31", help="the last training day")
    args = parser.parse_args()
    connect()
    trained = fit_and_log(args.data, args.train_end)
    version = register(trained)
    metrics = trained.metrics
    print(f"MASE {metrics['mase']:.3f}: seasonal naive {metrics['baseline_snaive_mase']:.3f}, legacy ARIMA "
          f"{metrics['legacy_arima_mase']:.3f}; registered {MODEL} version {version}")


if __name__ == "__main__":
    main()
