"""Challenge 04: a challenger trained on more data against the champion, on the same window.

    python -m forecasting.retrain --new-data resources/data/new-data-2014.csv.gz [--margin 0.05]

The challenger is our model trained on the champion's data plus the new rows (a TransactionID seen
twice is kept once), to the new data's last day, and registered whatever the outcome. The window is
the last 4 x 7 days of that series, scored with the same folds and the same per-fold MASE scale for
both: the champion as registered (the path it serves, read at each fold's dates: it was trained
before the window, so it has seen none of them), the challenger refit at each origin on the days
before it (so it has not either). We compare the two models, not two recipes. Promoted only if
challenger_mase < champion_mase * (1 - margin). The release pipeline runs next and serves the champion.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from .data import WINDOW, daily_series, raw_rows, read_transactions, sha256
from .model import HORIZON, backtest, mase_scale, origins, weekday_median
from .train import fit_and_log, register
from .workspace import MODEL, WORKSPACE, champion, ci_tags, connect, pipeline, promote, step


def combine(old: Path, new: Path) -> Path:
    rows = pd.concat([raw_rows(old), raw_rows(new)]).drop_duplicates("TransactionID")
    staged = WORKSPACE / "data" / "combined.csv.gz"
    staged.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(staged, sep="\t", header=False, index=False)
    final = staged.with_name(f"TransactionHistory-{sha256(staged)[:12]}.csv.gz")  # one file per content
    staged.replace(final)
    return final


def served_mase(model_uri: str, series: pd.Series) -> float:
    """The registered model's own forecasts on the backtest's folds, scaled like the challenger's."""
    model = mlflow.pyfunc.load_model(model_uri)
    start = pd.Timestamp(model.metadata.metadata["train_end"]) + pd.Timedelta(days=1)
    needed = (series.index[-1] - start).days + 1
    path = pd.Series(model.predict(pd.DataFrame({"steps": [needed]})), index=pd.date_range(start, periods=needed))
    folds = []
    for origin in origins(series):
        test = series.iloc[origin:origin + HORIZON]
        error = np.abs(test.to_numpy() - path[test.index].to_numpy())
        folds.append(error.mean() / mase_scale(series.iloc[:origin].to_numpy()))
    return float(np.mean(folds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-data", type=Path, required=True)
    parser.add_argument("--margin", type=float, default=0.05, help="the relative improvement needed (0.05: 5 %%)")
    args = parser.parse_args()
    client = connect()
    old = champion(client)
    trained_on = client.get_run(old.tags["run_id"]).data.params
    with pipeline("retrain"):
        with step("acquire"):
            data = combine(Path(trained_on["data_file"]), args.new_data)
            end = f"{read_transactions(data)['TransactionDate'].max():%Y-%m-%d}"
        trained = fit_and_log(data, end, tags={"wth.step": "train"})
        challenger = register(trained, **ci_tags())
        with step("evaluate"):
            series = daily_series(read_transactions(data), WINDOW[0], end)
            scores = {"champion_mase": served_mase(f"models:/{MODEL}/{old.version}", series),
                      "challenger_mase": backtest(weekday_median, series)["mase"]}
            window = {"eval_start": f"{series.index[origins(series)[0]]:%Y-%m-%d}", "eval_end": end}
        promoted = scores["challenger_mase"] < scores["champion_mase"] * (1 - args.margin)
        change = 1 - scores["challenger_mase"] / scores["champion_mase"]
        reason = (f"challenger MASE {scores['challenger_mase']:.3f} vs champion {scores['champion_mase']:.3f} "
                  f"({change:+.1%}; needed {args.margin:.0%}) on {window['eval_start']}..{end}")
        mlflow.log_metrics({**scores, "margin": args.margin, "promoted": int(promoted)})
        mlflow.set_tags({**window, "decision": "promoted" if promoted else "rejected", "reason": reason,
                         "champion_version": old.version, "challenger_version": challenger})
        if promoted:
            promote(client, challenger)
    print(f"{'promoted' if promoted else 'rejected'} version {challenger}: {reason}")


if __name__ == "__main__":
    main()
