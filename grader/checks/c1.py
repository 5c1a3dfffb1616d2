"""Challenge 01: a forecasting model, backtested against baselines, logged and registered."""

from __future__ import annotations

from datetime import datetime, timezone

from . import check, failed, passed

MAX_CANDIDATES = 10


def _when(run) -> str:
    return datetime.fromtimestamp(run.info.start_time / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@check("C1.1", "Dataset recorded", points=10, anchor="success-criteria", depends=("C0.1",))
def dataset_recorded(team) -> object:
    for run in team.mlflow.runs:
        inputs = run.inputs.dataset_inputs if run.inputs else []
        if inputs:
            ds = inputs[0].dataset
            context = next((t.value for t in inputs[0].tags if t.key == "mlflow.data.context"), None)
            return passed(f"run {run.info.run_id[:8]} ({run.info.run_name}) recorded dataset {ds.name!r} "
                          f"(digest {ds.digest}) as an MLflow dataset input",
                          run_id=run.info.run_id, dataset=ds.name, digest=ds.digest, source=ds.source[:300],
                          context=context, started=_when(run))
    with_sha = [r.info.run_id for r in team.mlflow.runs if "data_sha256" in r.data.params][:5]
    return failed("no run records its training data as an MLflow dataset: call mlflow.log_input(dataset, "
                  "context='training') in your training run", runs=len(team.mlflow.runs), runs_with_data_sha256=with_sha)


def training_runs(team) -> list:
    return [r for r in team.mlflow.runs if "mase" in r.data.metrics][: MAX_CANDIDATES * 3]


@check("C1.2", "Finished training run with a model and baseline backtest metrics", points=10,
       anchor="success-criteria", depends=("C0.1",))
def training_run(team) -> object:
    candidates = training_runs(team)
    if not candidates:
        return failed("no run logs a `mase` metric: log your backtest metrics (mae, rmse, mape, smape, mase) "
                      "in the training run", runs=len(team.mlflow.runs))
    best = None
    for run in [r for r in candidates if r.info.status == "FINISHED"][:MAX_CANDIDATES]:
        metrics = run.data.metrics
        baselines = {k: round(v, 4) for k, v in metrics.items() if k.startswith(("baseline_", "legacy_")) and k.endswith("mase")}
        models = team.mlflow.logged_models(run)
        evidence = {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
                    "experiment": team.mlflow.experiment_name(run.info.experiment_id), "mase": round(metrics["mase"], 4),
                    "baselines": baselines, "models": models, "started": _when(run)}
        if baselines and models:
            return passed(f"run {run.info.run_id[:8]} finished with MASE {metrics['mase']:.3f}, "
                          f"{len(baselines)} baseline MASE(s) and the model {models[0]!r}", **evidence)
        best = best or evidence
    if best is None:
        statuses = sorted({r.info.status for r in candidates})
        return failed(f"runs log `mase` but none FINISHED (status {', '.join(statuses)}): let the training run "
                      "end cleanly", runs=[r.info.run_id for r in candidates[:5]])
    missing = [what for what, ok in (("baseline metrics such as baseline_snaive_mase and legacy_arima_mase", best["baselines"]),
                                     ("a logged model (mlflow.pyfunc.log_model)", best["models"])) if not ok]
    return failed(f"the newest finished run with `mase` ({best['run_id'][:8]}) lacks {' and '.join(missing)}", **best)


@check("C1.3", "Model registered", points=10, anchor="success-criteria", depends=("C0.1",))
def model_registered(team) -> object:
    versions = team.mlflow.versions
    if not versions:
        others = team.mlflow.registered_models
        hint = f" (registered models found: {', '.join(others)}; the grader looks for {team.team.model!r})" if others else ""
        return failed(f"no version of the model {team.team.model!r} is registered{hint}", model=team.team.model,
                      registered_models=others)
    listing = [{"version": v.version, "run_id": v.run_id, "aliases": list(v.aliases or []), "status": v.status}
               for v in versions[:10]]
    return passed(f"{team.team.model!r} has {len(versions)} registered version(s), newest {versions[0].version}",
                  model=team.team.model, versions=listing)
