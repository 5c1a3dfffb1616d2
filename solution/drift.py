"""Data-drift monitoring (challenge 05): is a batch of new actuals still the data the champion knows?

The batch (a TransactionHistory file) becomes a daily series and is compared with the champion's
whole training window (the reference) and with the champion's own forecast for the batch's dates, by
four tests: Kolmogorov-Smirnov and the population stability index on the values, the weekday profile,
and performance decay (the champion's MASE on the batch over its registered backtest MASE). A test's
score is its statistic relative to its threshold (`Thresholds`; for KS, log p / log alpha); the
verdict is drift when the largest score, `drift_score`, reaches 1. Coach/Solution-05.md gives the
table and why the thresholds are set above the textbook ones.

`run` records a drift pipeline run (steps `detect` and `report`, every statistic as a
metric, the tag `batch_sha256`, the artifact `drift_report.html`) and returns the exit status: 0 no
drift, 3 drift (2 bad input, 1 a failed step, as every command). With `retrain_on_drift` a drifted
batch is then retrained on as new data, in its own pipeline run.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from wth.config import SEASON  # noqa: E402
from wth.errors import UsageError  # noqa: E402
from wth.protocol import seasonal_naive_scale  # noqa: E402
from wth.workspace_contract import BATCH_SHA256, CHAMPION_VERSION, DRIFT_DETECTED, DRIFT_PIPELINE, DRIFT_REPORT, DRIFT_SCORE, VERDICT  # noqa: E402

from . import retrain, workspace  # noqa: E402
from .forecast import Forecast  # noqa: E402
from .workspace import Workspace  # noqa: E402

NO_DRIFT, DRIFT = 0, 3
MIN_DAYS = 2 * SEASON  # at least two of every weekday
PSI_BINS = 5
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TEMPLATES = Path(__file__).resolve().parent / "templates"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Thresholds:
    ks_alpha: float = 0.01
    psi: float = 0.75
    weekday: float = 0.75
    decay: float = 2.5

    @classmethod
    def given(cls, args: argparse.Namespace) -> Thresholds:
        """The thresholds of `add_arguments`' flags, each one not given at its default."""
        given = {"ks_alpha": args.ks_alpha, "psi": args.psi_threshold, "weekday": args.weekday_threshold,
                 "decay": args.decay_threshold}
        return cls(**{name: value for name, value in given.items() if value is not None})

    def check(self) -> None:
        if not 0 < self.ks_alpha < 1:
            raise UsageError(f"--ks-alpha {self.ks_alpha} must be a probability between 0 and 1")
        for name in ("psi", "weekday", "decay"):
            if not getattr(self, name) > 0:
                raise UsageError(f"the {name} threshold must be positive, got {getattr(self, name)}")


@dataclass
class Test:
    name: str  # metric prefix: <name>_score
    title: str
    statistics: dict[str, float]  # logged as metrics
    threshold: str  # human-readable rule
    score: float  # >= 1 flags drift

    @property
    def flagged(self) -> bool:
        return self.score >= 1


@dataclass
class Assessment:
    reference: pd.Series
    batch: pd.Series
    expected: pd.Series  # the champion's forecast for the batch's dates
    tests: list[Test] = field(default_factory=list)

    @property
    def drift_score(self) -> float:
        return max(test.score for test in self.tests)

    @property
    def drift_detected(self) -> bool:
        return self.drift_score >= 1

    def metrics(self) -> dict[str, float]:
        out = {DRIFT_DETECTED: float(self.drift_detected), DRIFT_SCORE: self.drift_score}
        for test in self.tests:
            out.update(test.statistics)
            out[f"{test.name}_score"] = test.score
        return out

    def verdict(self) -> str:
        flagged = [test.title for test in self.tests if test.flagged]
        if flagged:
            return f"DRIFT (score {self.drift_score:.2f} >= 1): " + "; ".join(flagged)
        return f"no drift (score {self.drift_score:.2f} < 1)"


def psi(reference: np.ndarray, batch: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of `batch` against the reference's quantile bins."""
    edges = np.quantile(reference, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    # half a count added to every bin (Jeffreys): with ~28 values an empty bin is common and must not
    # make the index explode, as the usual clip at 1e-4 would (one empty bin alone would give ~1.5)
    expected = (np.histogram(reference, edges)[0] + 0.5) / (len(reference) + 0.5 * bins)
    actual = (np.histogram(batch, edges)[0] + 0.5) / (len(batch) + 0.5 * bins)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def weekday_profile(series: pd.Series) -> pd.Series:
    """Each weekday's mean relative to the mean of the seven (1 = an average day), Monday first."""
    means = series.groupby(series.index.day_of_week).mean().reindex(range(7))
    return (means / means.mean()).set_axis(WEEKDAYS)


def assess(reference: pd.Series, batch: pd.Series, champion: Forecast, backtest_mase: float,
           thresholds: Thresholds = Thresholds()) -> Assessment:
    """Run the four tests of the module docstring on `batch` (which starts after the champion's data)."""
    ref, new = reference.to_numpy(dtype=float), batch.to_numpy(dtype=float)
    offset = (batch.index[0] - champion.train_end).days - 1
    expected = pd.Series(np.maximum(champion.path[offset : offset + len(batch)], 0.0), index=batch.index)

    ks = stats.ks_2samp(ref, new)
    pvalue = max(float(ks.pvalue), 1e-300)
    value_psi = psi(ref, new)
    distance = float(np.mean(np.abs(weekday_profile(batch) - weekday_profile(reference))))
    batch_mase = float(np.mean(np.abs(new - expected.to_numpy())) / seasonal_naive_scale(ref))
    decay = batch_mase / backtest_mase
    tests = [
        Test("ks", "values: Kolmogorov-Smirnov", {"ks_statistic": float(ks.statistic), "ks_pvalue": pvalue},
             f"p < {thresholds.ks_alpha:g}", math.log(pvalue) / math.log(thresholds.ks_alpha)),
        Test("psi", "values: population stability index", {"psi": value_psi},
             f"PSI >= {thresholds.psi:g}", value_psi / thresholds.psi),
        Test("weekday", "weekday profile", {"weekday_distance": distance},
             f"distance >= {thresholds.weekday:g}", distance / thresholds.weekday),
        Test("decay", "performance decay", {"performance_decay": decay, "batch_mase": batch_mase,
                                            "backtest_mase": backtest_mase},
             f"batch MASE / backtest MASE >= {thresholds.decay:g}", decay / thresholds.decay),
    ]
    return Assessment(reference=reference, batch=batch, expected=expected, tests=tests)


# --- the report -----------------------------------------------------------------------------------


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(assessment: Assessment) -> dict[str, str]:
    ref, batch = assessment.reference, assessment.batch
    series, ax = plt.subplots(figsize=(10, 3.6))
    ref.iloc[-12 * SEASON :].plot(ax=ax, color="grey", lw=1, label="training data (last 12 weeks)")
    batch.plot(ax=ax, color="black", lw=1.4, label="batch actuals")
    assessment.expected.plot(ax=ax, color="tab:orange", ls="--", label="champion's forecast")
    ax.set_ylabel("mean PaidAmount")
    ax.legend(loc="upper left", fontsize=8)
    series.tight_layout()

    values, ax = plt.subplots(figsize=(5, 3.4))
    for data, label, colour in ((ref, "training data", "grey"), (batch, "batch", "black")):
        ordered = np.sort(data.to_numpy())
        ax.step(ordered, np.arange(1, len(ordered) + 1) / len(ordered), where="post", color=colour, label=label)
    ax.set_xlabel("daily mean PaidAmount")
    ax.set_ylabel("cumulative share of days")
    ax.legend(fontsize=8)
    values.tight_layout()

    weekdays, ax = plt.subplots(figsize=(5, 3.4))
    profiles = pd.DataFrame({"training data": weekday_profile(ref), "batch": weekday_profile(batch)})
    profiles.plot.bar(ax=ax, color=["grey", "black"], rot=0)
    ax.axhline(1, color="tab:blue", lw=0.8)
    ax.set_ylabel("weekday mean / weekly mean")
    weekdays.tight_layout()
    return {"timeline": _png(series), "distribution": _png(values), "weekdays": _png(weekdays)}


def render(assessment: Assessment, context: dict) -> str:
    """The self-contained HTML report."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("drift.html.j2").render(a=assessment, figures=_figures(assessment), **context)


# --- the pipeline ---------------------------------------------------------------------------------


def run(ws: Workspace, batch: str, thresholds: Thresholds = Thresholds(), retrain_on_drift: bool = False,
        margin: float | None = None, progress: Progress = print) -> int:
    """`wth-solution drift --batch PATH`: returns the exit status of the module docstring (0 or 3)."""
    thresholds.check()
    champion_version = retrain.current_champion(ws)
    champion = retrain.registered_forecast(ws, champion_version)
    actuals, loaded = retrain.read_series(batch)
    if len(actuals) < MIN_DAYS:
        raise UsageError(f"the batch covers {len(actuals)} days; the drift tests need at least {MIN_DAYS}")
    if actuals.index[0] <= champion.train_end:
        raise UsageError(f"the batch starts {actuals.index[0]:%Y-%m-%d}, not after the champion's training end "
                         f"{champion.train_end:%Y-%m-%d}: drift is measured on days the model has not seen")
    if (actuals.index[-1] - champion.train_end).days > len(champion.path):
        raise UsageError(f"the batch ends more than {len(champion.path)} days after the champion's training end")
    reference = retrain.training_data(ws, champion_version)
    backtest_mase = float(champion_version.tags["mase"])
    span = f"{actuals.index[0]:%Y-%m-%d}..{actuals.index[-1]:%Y-%m-%d}"

    tags = {BATCH_SHA256: loaded.sha256, CHAMPION_VERSION: str(champion_version.version)}
    with workspace.pipeline_run(ws, DRIFT_PIPELINE, **tags) as parent:
        progress(f"drift pipeline run {parent.info.run_id}: batch {batch} ({span}, {len(actuals)} days) "
                 f"against version {champion_version.version}'s training data "
                 f"({reference.index[0]:%Y-%m-%d}..{reference.index[-1]:%Y-%m-%d})")
        params = {"batch": batch, "batch_start": f"{actuals.index[0]:%Y-%m-%d}",
                  "batch_end": f"{actuals.index[-1]:%Y-%m-%d}", "batch_days": len(actuals),
                  "batch_rows": loaded.rows, "reference_start": f"{reference.index[0]:%Y-%m-%d}",
                  "reference_end": f"{reference.index[-1]:%Y-%m-%d}", "ks_alpha": thresholds.ks_alpha,
                  "psi_threshold": thresholds.psi, "weekday_threshold": thresholds.weekday,
                  "decay_threshold": thresholds.decay}
        mlflow.log_params(params)
        with workspace.step("detect"):
            assessment = assess(reference, actuals, champion, backtest_mase, thresholds)
            mlflow.log_metrics(assessment.metrics())
        for test in assessment.tests:
            stat = ", ".join(f"{k} {v:.4g}" for k, v in test.statistics.items())
            progress(f"  {test.title:<38} {stat}  score {test.score:.2f}{'  FLAGGED' if test.flagged else ''}")
        mlflow.log_metrics(assessment.metrics())
        mlflow.set_tag(VERDICT, assessment.verdict())
        with workspace.step("report"), tempfile.TemporaryDirectory() as scratch:
            page = Path(scratch) / DRIFT_REPORT
            page.write_text(render(assessment, {"batch": batch, "span": span, "sha256": loaded.sha256,
                                                "version": champion_version, "run_id": parent.info.run_id}))
            mlflow.log_artifact(str(page), run_id=parent.info.run_id)
        progress(assessment.verdict())
    if assessment.drift_detected and retrain_on_drift:
        progress(f"--retrain-on-drift: retraining with {batch} as new data")
        retrain.run(ws, new_data=batch, margin=margin, progress=progress)
    return DRIFT if assessment.drift_detected else NO_DRIFT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `drift` and `pipeline drift` (their thresholds: `Thresholds.given`)."""
    default = Thresholds()
    parser.add_argument("--batch", required=True, metavar="PATH", help="new transactions (TransactionHistory layout)")
    parser.add_argument("--ks-alpha", type=float, help=f"KS test flags drift when p < this (default {default.ks_alpha})")
    parser.add_argument("--psi-threshold", type=float, help=f"PSI that flags drift (default {default.psi})")
    parser.add_argument("--weekday-threshold", type=float,
                        help=f"weekday-profile distance that flags drift (default {default.weekday})")
    parser.add_argument("--decay-threshold", type=float,
                        help=f"batch MASE / backtest MASE that flags drift (default {default.decay})")
    parser.add_argument("--retrain-on-drift", action="store_true", help="on drift, retrain with the batch as new data")
    parser.add_argument("--margin", type=float, default=None, help="with --retrain-on-drift: the promotion margin")
    parser.epilog = f"exit status: {NO_DRIFT} no drift, {DRIFT} drift detected, 2 bad input, 1 a failed step"
