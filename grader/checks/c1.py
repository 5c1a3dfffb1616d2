"""Challenge 01: a forecasting model, backtested against baselines, logged and registered."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from wth.config import FOLDS, HORIZON

from .. import backtest
from ..context import TeamContext
from ..not_gradable import NotGradable
from . import Outcome, check, failed, passed

MAX_CANDIDATES = 10
SNAIVE = "baseline_snaive_mase"


def _when(run) -> str:
    return datetime.fromtimestamp(run.info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@check("C1.1", "Dataset recorded", points=10, anchor="success-criteria", depends=("C0.1",))
def dataset_recorded(ctx: TeamContext) -> Outcome:
    for run in ctx.mlflow.runs:
        inputs = run.inputs.dataset_inputs if run.inputs else []
        if inputs:
            ds = inputs[0].dataset
            context = next((t.value for t in inputs[0].tags if t.key == "mlflow.data.context"), None)
            return passed(f"run {run.info.run_id[:8]} ({run.info.run_name}) recorded dataset {ds.name!r} "
                          f"(digest {ds.digest}) as an MLflow dataset input",
                          run_id=run.info.run_id, dataset=ds.name, digest=ds.digest, source=ds.source[:300],
                          context=context, started=_when(run))
    with_sha = [r.info.run_id for r in ctx.mlflow.runs if "data_sha256" in r.data.params][:5]
    return failed("no run records its training data as an MLflow dataset: call mlflow.log_input(dataset, "
                  "context='training') in your training run", runs=len(ctx.mlflow.runs), runs_with_data_sha256=with_sha)


def training_runs(ctx: TeamContext) -> list:
    return [r for r in ctx.mlflow.runs if "mase" in r.data.metrics][: MAX_CANDIDATES * 3]


def _the_team_s(ctx: TeamContext, path: Path) -> bool:
    """Whether `path` resolves into the team's own local workspace folder or repository clone."""
    workspace = ctx.team.workspace
    folders = {"folder": [workspace.location], "sqlite": [str(Path(workspace.location).parent)]}.get(workspace.kind, [])
    folders += [str(ctx.team.repo.path)] if ctx.team.repo and ctx.team.repo.path else []
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(folder)) for folder in folders)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # not readable by the grader's user
        return False


def _recomputed(ctx: TeamContext, run) -> dict:
    """The grader's seasonal naive backtest MASE on the data and window the run records (see backtest.py)."""
    params = run.data.params
    inputs = run.inputs.dataset_inputs if run.inputs else []
    missing = [p for p in ("train_start", "train_end") if not params.get(p)]
    if missing or not inputs:
        lacks = [f"the param(s) {', '.join(missing)}"] if missing else []
        lacks += [] if inputs else ["a dataset input (mlflow.log_input)"]
        return {"problem": f"it does not record {' and '.join(lacks)}, so its baseline cannot be recomputed"}
    source = inputs[0].dataset.source
    path = backtest.source_path(source)
    found_by = "the dataset input's source"
    if path is not None and not _the_team_s(ctx, path):
        path = None  # a file elsewhere on the coach's machine (the holdout, another team's) is never opened
    if (path is None or not _is_file(path)) and params.get("data_sha256") in ctx.session.known_data():
        path, found_by = Path(ctx.session.known_data()[params["data_sha256"]]), "its data_sha256 param"
    if path is None:
        raise NotGradable(f"the dataset input's source {source[:200]} is not a file of the team's workspace or "
                          "repository, nor one the grader holds (by the run's data_sha256 param)")
    series = ctx.session.recorded_series(path, params["train_start"], params["train_end"])
    out = {"data": str(path), "found_by": found_by, "window": f"{params['train_start']}..{params['train_end']}",
           "days": len(series)}
    if params.get("n_obs", "").isdigit() and int(params["n_obs"]) != len(series):
        out["problem"] = (f"its n_obs param says {params['n_obs']} days, but {out['data']} holds {len(series)} days "
                          f"in {out['window']}")
        return out
    try:
        out["mase"] = round(backtest.snaive_mase(series), 4)
    except ValueError as err:
        out["problem"] = str(err)
    return out


@check("C1.2", "Finished training run with a model and baseline backtest metrics", points=10,
       anchor="success-criteria", depends=("C0.1",))
def training_run(ctx: TeamContext) -> Outcome:
    candidates = training_runs(ctx)
    if not candidates:
        return failed("no run logs a `mase` metric: log your backtest metrics (mae, rmse, mape, smape, mase) "
                      "in the training run", runs=len(ctx.mlflow.runs))
    best = None
    for run in [r for r in candidates if r.info.status == "FINISHED"][:MAX_CANDIDATES]:
        metrics = run.data.metrics
        baselines = {k: round(v, 4) for k, v in metrics.items() if k.startswith(("baseline_", "legacy_")) and k.endswith("mase")}
        models = ctx.mlflow.logged_models(run)
        evidence = {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
                    "experiment": ctx.mlflow.experiment_name(run.info.experiment_id), "mase": round(metrics["mase"], 4),
                    "baselines": baselines, "models": models, "started": _when(run)}
        if SNAIVE in metrics and models:
            return _judge_baseline(ctx, run, evidence)
        best = best or evidence
    if best is None:
        statuses = sorted({r.info.status for r in candidates})
        return failed(f"runs log `mase` but none FINISHED (status {', '.join(statuses)}): let the training run "
                      "end cleanly", runs=[r.info.run_id for r in candidates[:5]])
    missing = [what for what, ok in ((f"the seasonal naive baseline {SNAIVE}", SNAIVE in best["baselines"]),
                                     ("a logged model (mlflow.pyfunc.log_model)", best["models"])) if not ok]
    return failed(f"the newest finished run with `mase` ({best['run_id'][:8]}) lacks {' and '.join(missing)}", **best)


def _judge_baseline(ctx: TeamContext, run, evidence: dict) -> Outcome:
    logged = run.data.metrics[SNAIVE]
    again = _recomputed(ctx, run)
    evidence["recomputed"] = again
    short = run.info.run_id[:8]
    if "problem" in again:
        return failed(f"run {short} logs {SNAIVE} = {logged:.4f}, but {again['problem']}", **evidence)
    tolerance = backtest.RELATIVE_TOLERANCE
    if abs(logged - again["mase"]) > tolerance * again["mase"]:
        return failed(f"run {short} logs {SNAIVE} = {logged:.4f}, but the hack's backtest ({FOLDS} folds x {HORIZON} "
                      f"days) on its data and window {again['window']} gives {again['mase']:.4f} (tolerance "
                      f"{tolerance:.0%}): compute the baselines with the same backtest as your model", **evidence)
    return passed(f"run {short} finished with MASE {run.data.metrics['mase']:.3f}, {SNAIVE} {logged:.4f} (the "
                  f"grader's backtest on {again['window']}: {again['mase']:.4f}) and the model {evidence['models'][0]!r}",
                  **evidence)


@check("C1.3", "Model registered", points=10, anchor="success-criteria", depends=("C0.1",))
def model_registered(ctx: TeamContext) -> Outcome:
    versions = ctx.mlflow.versions
    if not versions:
        others = ctx.mlflow.registered_models
        hint = f" (registered models found: {', '.join(others)}; the grader looks for {ctx.team.model!r})" if others else ""
        return failed(f"no version of the model {ctx.team.model!r} is registered{hint}", model=ctx.team.model,
                      registered_models=others)
    listing = [{"version": v.version, "run_id": v.run_id, "aliases": list(v.aliases or []), "status": v.status}
               for v in versions[:10]]
    return passed(f"{ctx.team.model!r} has {len(versions)} registered version(s), newest {versions[0].version}",
                  model=ctx.team.model, versions=listing)
