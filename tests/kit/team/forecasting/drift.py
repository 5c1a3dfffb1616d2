"""Challenge 05: does a new batch look like the data the champion learned from?

    python -m forecasting.drift --batch resources/data/batch-clean.csv.gz resources/data/batch-drifted.csv.gz

The reference: the last 13 weeks of the champion's training series. Three two-sample Kolmogorov-Smirnov
tests on the daily amounts (all days, weekdays, weekends, so that the week's shape counts), with a
Bonferroni correction: drift when a p-value is below ALPHA / 3. Thresholds fixed before looking at a
batch. One run per batch, tagged with the batch file's SHA-256, with an HTML report.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from scipy.stats import ks_2samp

from .data import daily_series, read_transactions, sha256
from .workspace import champion, connect, pipeline

ALPHA = 0.01
REFERENCE_DAYS = 13 * 7
GROUPS = {"all days": range(7), "weekdays": range(5), "weekends": (5, 6)}


def tests(reference, batch) -> dict[str, tuple[float, float]]:
    """{group: (KS statistic, p-value)}"""
    out = {}
    for group, days in GROUPS.items():
        a, b = reference[reference.index.day_of_week.isin(days)], batch[batch.index.day_of_week.isin(days)]
        result = ks_2samp(a.to_numpy(), b.to_numpy())
        out[group] = (float(result.statistic), float(result.pvalue))
    return out


def report(path: Path, batch_file: Path, reference, batch, results, drift: bool) -> None:
    fig, ax = plt.subplots(figsize=(9, 3))
    reference.plot(ax=ax, label="reference (champion's training data)")
    batch.plot(ax=ax, label=f"batch {batch_file.name}")
    ax.legend()
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    plt.close(fig)
    rows = "".join(f"<tr><td>{g}</td><td>{s:.3f}</td><td>{p:.2e}</td><td>{'yes' if p < ALPHA / len(results) else 'no'}</td></tr>"
                   for g, (s, p) in results.items())
    path.write_text(
        f"<html><body><h1>Drift check: {'DRIFT' if drift else 'no drift'}</h1>"
        f"<p>Batch {html.escape(str(batch_file))} ({len(batch)} days) against the last {len(reference)} days of the "
        f"champion's training data. Two-sample KS tests, drift when p &lt; {ALPHA} / {len(results)}.</p>"
        f"<table><tr><th>days</th><th>KS statistic</th><th>p-value</th><th>drift</th></tr>{rows}</table>"
        f"<img src='data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}'></body></html>")


def check(batch_file: Path, reference) -> bool:
    batch = daily_series(read_transactions(batch_file), "2000-01-01", "2100-12-31")
    results = tests(reference, batch)
    smallest = min(p for _, p in results.values())
    drift = smallest < ALPHA / len(results)
    with pipeline("drift", batch_sha256=sha256(batch_file), verdict="drift" if drift else "no drift"):
        mlflow.log_param("batch", str(batch_file))
        mlflow.log_metrics({"drift_detected": int(drift), "drift_score": float(-np.log10(max(smallest, 1e-300)))})
        for group, (statistic, p) in results.items():
            key = group.replace(" ", "_")
            mlflow.log_metrics({f"ks_{key}": statistic, f"ks_{key}_p": p})
        with tempfile.TemporaryDirectory() as folder:
            page = Path(folder) / "drift_report.html"
            report(page, batch_file, reference, batch, results, drift)
            mlflow.log_artifact(str(page))
    print(f"{batch_file}: {'drift' if drift else 'no drift'} (smallest p-value {smallest:.2e})")
    return drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=Path, action="extend", nargs="+", required=True)
    args = parser.parse_args()
    client = connect()
    params = client.get_run(champion(client).tags["run_id"]).data.params
    trained = daily_series(read_transactions(Path(params["data_file"])), params["train_start"], params["train_end"])
    for batch_file in args.batch:
        check(batch_file, trained.iloc[-REFERENCE_DAYS:])


if __name__ == "__main__":
    main()
