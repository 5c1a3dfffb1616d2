"""Challenge 04: retraining on more data, a fair recorded comparison, and the champion serving."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from wth.workspace_contract import (
    CHALLENGER_MASE,
    CHALLENGER_VERSION,
    CHAMPION_MASE,
    CHAMPION_VERSION,
    DECISION,
    EVAL_END,
    EVAL_START,
    MARGIN,
    PIPELINE_TAG,
    PROMOTED,
    PROMOTED_METRIC,
    REJECTED,
    RETRAIN_PIPELINE,
    promotes,
)

from ..context import TeamContext
from . import NOT_CI, Outcome, check, failed, made_by_ci, passed
from .c3 import served


def _trained(ctx: TeamContext, version) -> dict:
    """train_start, train_end, n_obs of a version: its tags, else its run's params."""
    tags = dict(version.tags or {})
    if not all(tags.get(k) for k in ("train_end", "n_obs")) and version.run_id:
        run = ctx.mlflow.run(version.run_id)
        if run is not None:
            tags = {**run.data.params, **tags}
    return {"version": str(version.version), "train_start": tags.get("train_start"), "train_end": tags.get("train_end"),
            "n_obs": int(tags["n_obs"]) if str(tags.get("n_obs", "")).isdigit() else None}


def _more_data(new: dict, old: dict) -> bool:
    if new["n_obs"] is not None and old["n_obs"] is not None and new["n_obs"] != old["n_obs"]:
        return new["n_obs"] > old["n_obs"]
    if new["train_end"] and old["train_end"]:
        return pd.Timestamp(new["train_end"]) > pd.Timestamp(old["train_end"])
    return False


@check("C4.1", "At least 2 versions, the newer trained on more data", points=10, anchor="success-criteria",
       depends=("C1.3",))
def retrained_version(ctx: TeamContext) -> Outcome:
    versions = [_trained(ctx, v) for v in ctx.mlflow.versions]  # newest first
    if len(versions) < 2:
        return failed(f"{len(versions)} registered version(s): retrain on the new data and register the challenger",
                      versions=versions)
    for i, new in enumerate(versions):
        for old in versions[i + 1:]:
            if _more_data(new, old):
                return passed(f"version {new['version']} ({new['n_obs']} days to {new['train_end']}) is trained on more "
                              f"data than version {old['version']} ({old['n_obs']} days to {old['train_end']})",
                              versions=versions[:10])
    return failed("no registered version is trained on more data than an earlier one (compared n_obs and "
                  "train_end tags)", versions=versions[:10])


COMPARED = (CHAMPION_MASE, CHALLENGER_MASE)


@dataclass
class Evaluation:
    """A retrain pipeline run (parent, tagged wth.pipeline=retrain) and the comparison it records:
    metrics on the run itself, else on one of its step runs (named in `metrics_from`)."""

    run: object
    metrics: dict
    metrics_from: str

    @property
    def name(self) -> str:
        via = "" if self.metrics_from == self.run.info.run_id else f", metrics from its step run {self.metrics_from[:8]}"
        return f"retrain pipeline run {self.run.info.run_id[:8]}{via}"


def evaluation(ctx: TeamContext) -> Evaluation | None:
    """The newest retrain pipeline run that records a champion-vs-challenger comparison (offline: one a CI
    run made, `made_by_ci`)."""
    for run in ctx.mlflow.pipeline_runs(RETRAIN_PIPELINE):
        if ctx.devops is None and not made_by_ci(ctx, run):
            continue
        if run.data.tags.get("mlflow.parentRunId"):
            continue  # a step run copying the tag is not the pipeline run
        if set(COMPARED) <= set(run.data.metrics):
            return Evaluation(run, run.data.metrics, run.info.run_id)
        for child in ctx.mlflow.children(run.info.run_id):
            if set(COMPARED) <= set(child.data.metrics):
                return Evaluation(run, {**child.data.metrics, **run.data.metrics}, child.info.run_id)
    return None


def _no_evaluation(ctx: TeamContext) -> Outcome:
    retrains = [f"{r.info.run_id[:8]} {r.info.status}" for r in ctx.mlflow.pipeline_runs(RETRAIN_PIPELINE)[:5]]
    elsewhere = [r.info.run_id[:8] for r in ctx.mlflow.runs if set(COMPARED) <= set(r.data.metrics)][:5]
    note = (f"; runs {', '.join(elsewhere)} log them but are not part of a retrain pipeline run" if elsewhere else "")
    if ctx.devops is None:
        note += f" ({NOT_CI})"
    return failed(f"no retrain pipeline run (a parent run tagged {PIPELINE_TAG}={RETRAIN_PIPELINE}) records both {CHAMPION_MASE} "
                  f"and {CHALLENGER_MASE}{note}: log the comparison in your retrain pipeline run",
                  retrain_runs=retrains, runs_with_the_metrics_elsewhere=elsewhere)


@check("C4.2", "Recorded evaluation: both metrics on the same window", points=10, anchor="success-criteria",
       depends=("C0.1",))
def recorded_evaluation(ctx: TeamContext) -> Outcome:
    found = evaluation(ctx)
    if found is None:
        return _no_evaluation(ctx)
    run = found.run
    tags = {**run.data.params, **run.data.tags}
    evidence = {"run_id": run.info.run_id, "metrics_from": found.metrics_from, "status": run.info.status,
                CHAMPION_MASE: round(found.metrics[CHAMPION_MASE], 4),
                CHALLENGER_MASE: round(found.metrics[CHALLENGER_MASE], 4),
                EVAL_START: tags.get(EVAL_START), EVAL_END: tags.get(EVAL_END)}
    if run.info.status != "FINISHED":
        return failed(f"the {found.name} is {run.info.status}, not FINISHED", **evidence)
    if not (tags.get(EVAL_START) and tags.get(EVAL_END)):
        return failed(f"the {found.name} does not record its evaluation window: tag {EVAL_START} and {EVAL_END} (one "
                      "window for both models is what makes the comparison fair)", **evidence)
    return passed(f"{found.name}: champion MASE {evidence[CHAMPION_MASE]:.3f} vs challenger "
                  f"{evidence[CHALLENGER_MASE]:.3f}, both on {tags[EVAL_START]}..{tags[EVAL_END]}", **evidence)


@check("C4.3", "Champion tag agrees with the recorded decision", points=10, anchor="success-criteria",
       depends=("C4.2", "C1.3"))
def champion_agrees(ctx: TeamContext) -> Outcome:
    found = evaluation(ctx)
    run, metrics, tags = found.run, found.metrics, found.run.data.tags
    margin = metrics.get(MARGIN, 0.0)
    better = promotes(metrics[CHAMPION_MASE], metrics[CHALLENGER_MASE], margin)
    recorded = metrics.get(PROMOTED_METRIC)
    decision = tags.get(DECISION) or (None if recorded is None else PROMOTED if recorded == 1 else REJECTED)
    champion = ctx.mlflow.champion
    evidence = {"run_id": run.info.run_id, "metrics_from": found.metrics_from, DECISION: decision, MARGIN: margin,
                CHAMPION_MASE: round(metrics[CHAMPION_MASE], 4), CHALLENGER_MASE: round(metrics[CHALLENGER_MASE], 4),
                "champion_version_before": tags.get(CHAMPION_VERSION), CHALLENGER_VERSION: tags.get(CHALLENGER_VERSION),
                "champion_now": champion.version if champion else None}
    if decision not in (PROMOTED, REJECTED):
        return failed(f"the {found.name} records no decision: tag {DECISION}={PROMOTED}|{REJECTED}", **evidence)
    if (decision == PROMOTED) != better:
        return failed(f"the {found.name} decided '{decision}', which contradicts its metrics: challenger "
                      f"{evidence[CHALLENGER_MASE]} vs champion {evidence[CHAMPION_MASE]} with margin {margin:g}", **evidence)
    expected = tags.get(CHALLENGER_VERSION) if decision == PROMOTED else tags.get(CHAMPION_VERSION)
    if not expected:
        return failed(f"the {found.name} does not tag {CHAMPION_VERSION} and {CHALLENGER_VERSION}", **evidence)
    if champion is None or str(champion.version) != str(expected):
        return failed(f"the {found.name} decided '{decision}', so the champion should be version {expected}, but the "
                      f"champion mark is on {champion.version if champion else 'no version'}", **evidence)
    return passed(f"the {found.name} decided '{decision}', which agrees with its metrics, and the champion is "
                  f"version {expected}", **evidence)


@check("C4.4", "Endpoint serves the champion after retraining", points=10, anchor="success-criteria",
       depends=("C4.3", "C3.2"), source="endpoint")
def serves_new_champion(ctx: TeamContext) -> Outcome:
    body = served(ctx)
    champion = ctx.mlflow.champion
    evidence = {"served": body["model"], "champion": champion.version, "first_date": f"{body['dates'][0]:%Y-%m-%d}",
                "champion_train_end": (champion.tags or {}).get("train_end")}
    if body["model"]["version"] != str(champion.version):
        return failed(f"after retraining the champion is version {champion.version}, the endpoint still serves "
                      f"version {body['model']['version']}: roll the endpoint to the champion", **evidence)
    end = evidence["champion_train_end"]
    if end and body["dates"][0] != pd.Timestamp(end) + pd.Timedelta(days=1):
        return failed(f"the endpoint reports version {champion.version} but its forecast does not start the day after "
                      f"that version's training end {end}", **evidence)
    return passed(f"the endpoint serves the current champion, version {champion.version}", **evidence)
