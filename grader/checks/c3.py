"""Challenge 03: a live endpoint that speaks the contract, beats the seasonal naive on the coach's
hidden holdout (MASE computed here from the endpoint's own forecasts), serves the champion, and a
succeeded release pipeline run."""

from __future__ import annotations

import pandas as pd

from wth import contract
from wth.workspace_contract import BUILD_ID, PIPELINE_TAG, RELEASE_PIPELINE, RELEASED_VERSION, SMOKE_TEST_STEP, STEP_TAG

from .. import holdout
from ..context import TeamContext
from ..not_gradable import NotGradable
from ..probes.endpoint import Unreachable
from ..teams import default_holdout
from . import Decided, Outcome, check, failed, partial, passed, pipeline_runs, unreachable

CONTRACT_STEPS = 14


def parse_forecast(answer, steps: int) -> tuple[dict | None, str | None]:
    """The contract's answer as {"forecast", "dates", "model"}; or None and what is wrong (`wth.contract`)."""
    if answer.status != 200:
        return None, f"POST /score {{\"steps\": {steps}}} answered {answer.excerpt()}"
    problems = contract.forecast_problems(answer.body, steps)
    if problems:
        return None, f"POST /score {{\"steps\": {steps}}} answered 200, but {problems[0]}"
    body = answer.body
    return {"forecast": [float(v) for v in body["forecast"]], "dates": pd.to_datetime(body["dates"], format="%Y-%m-%d"),
            "model": {"name": body["model"]["name"], "version": body["model"]["version"]}}, None


def served(ctx: TeamContext, steps: int = CONTRACT_STEPS, lead: str = "", **evidence) -> dict:
    """The endpoint's forecast of `steps` days (`parse_forecast`); the check fails here, with `lead`
    before what is wrong and the `evidence` given, when there is none."""
    try:
        body, problem = parse_forecast(ctx.forecast(steps), steps)
    except Unreachable as err:
        body, problem = None, str(err)
    if problem:
        raise Decided(failed(lead + problem, **evidence))
    return body


def train_end_of(ctx: TeamContext, version: str) -> pd.Timestamp | None:
    try:
        mv = ctx.mlflow.version(version)
    except Exception:  # the workspace may be unreachable: the endpoint is judged on its own then
        return None
    end = (mv.tags or {}).get("train_end") if mv else None
    return pd.Timestamp(end) if end else None


@check("C3.1", "Endpoint live", points=5, anchor="success-criteria", source="endpoint")
def endpoint_live(ctx: TeamContext) -> Outcome:
    if ctx.endpoint is None:
        return failed("no endpoint configured for this team yet: give your coach your scoring URI")
    try:
        answer = ctx.endpoint.get_root()
    except Unreachable as err:
        return unreachable("endpoint", f"GET {ctx.endpoint.root_uri} got no answer: {err}; start or redeploy your "
                           "endpoint", uri=ctx.endpoint.root_uri)
    if answer.status != 200:
        return failed(f"GET {ctx.endpoint.root_uri} answered {answer.excerpt()}; a live endpoint answers 200",
                      uri=ctx.endpoint.root_uri, status=answer.status)
    return passed(f"GET {ctx.endpoint.root_uri} answered 200 in {answer.seconds:.2f} s",
                  uri=ctx.endpoint.root_uri, seconds=answer.seconds)


@check("C3.2", "/score speaks the contract", points=10, anchor="success-criteria", depends=("C3.1",), source="endpoint")
def speaks_contract(ctx: TeamContext) -> Outcome:
    body = served(ctx, request={"steps": CONTRACT_STEPS}, uri=ctx.endpoint.scoring_uri)
    first = body["dates"][0]
    evidence = {"uri": ctx.endpoint.scoring_uri, "request": {"steps": CONTRACT_STEPS}, "model": body["model"],
                "first_date": f"{first:%Y-%m-%d}", "first_values": [round(v, 2) for v in body["forecast"][:3]]}
    end = train_end_of(ctx, body["model"]["version"])
    if end is not None:
        evidence["train_end"] = f"{end:%Y-%m-%d}"
        if first != end + pd.Timedelta(days=1):
            return failed(f"the dates start {first:%Y-%m-%d}, but version {body['model']['version']} was trained to "
                          f"{end:%Y-%m-%d}: the forecast must start the day after the training end", **evidence)
    return passed(f"{CONTRACT_STEPS} finite forecasts for {first:%Y-%m-%d}..{body['dates'][-1]:%Y-%m-%d} from "
                  f"{body['model']['name']} version {body['model']['version']}", **evidence)


@check("C3.3", "Bad input gets a 4xx with an error", points=10, anchor="success-criteria", depends=("C3.1",), source="endpoint")
def bad_input(ctx: TeamContext) -> Outcome:
    wrong, seen = [], {}
    for bad in contract.BAD_INPUTS:
        try:
            answer = ctx.endpoint.score_raw(bad.body)
        except Unreachable as err:
            wrong.append(f"{bad.label}: {err}")
            continue
        seen[bad.label] = answer.excerpt()[:120]
        if (problem := contract.refusal_problem(answer.status, answer.body)):
            wrong.append(f"{bad.label}: {problem} ({answer.excerpt()[:100]})")
    if wrong:
        total = len(contract.BAD_INPUTS)
        return partial(f"{len(wrong)} of {total} bad requests were not refused with 4xx + "
                       f"{{\"error\": ...}}: {wrong[0]}", (total - len(wrong)) / total, wrong=wrong, answers=seen)
    return passed(f"all {len(contract.BAD_INPUTS)} bad requests got a 4xx with an error message", answers=seen)


@check("C3.4", "Beats the seasonal naive on the coach's holdout", points=15, anchor="success-criteria",
       depends=("C3.2",), source="endpoint")
def beats_snaive(ctx: TeamContext) -> Outcome:
    truth = holdout.truth(ctx.team.holdout or default_holdout())
    body = served(ctx)
    origin = body["dates"][0] - pd.Timedelta(days=1)
    steps = (truth.end - origin).days
    evidence = {"holdout": truth.label, "origin": f"{origin:%Y-%m-%d}", "model": body["model"]}
    if steps > contract.MAX_STEPS:
        return failed(f"the served model is trained to {origin:%Y-%m-%d}, more than {contract.MAX_STEPS} days before the holdout's "
                      f"end {truth.end:%Y-%m-%d}: retrain on recent data", **evidence)
    if steps < 1:
        raise NotGradable(f"the served model is trained to {origin:%Y-%m-%d}, past the holdout's end "
                          f"{truth.end:%Y-%m-%d}; the coach should set a later holdout.start")
    long = served(ctx, steps, f"asked for {steps} days: ", **evidence)
    forecast = pd.Series(long["forecast"], index=long["dates"])
    try:
        scores = holdout.mase_against_snaive(truth, origin, forecast)
    except ValueError as err:
        return failed(str(err), **evidence)
    evidence.update(scores)
    public = " (PUBLIC default holdout, not secret)" if truth.public else ""
    verdict = (f"MASE {scores['mase']:.3f} vs seasonal naive {scores['snaive_mase']:.3f} (relative MASE "
               f"{scores['relative_mase']:.3f}) on {scores['days']} holdout days {scores['first_day']}..{scores['last_day']}{public}")
    if scores["relative_mase"] < 1:
        return passed(f"the endpoint's forecasts beat the seasonal naive: {verdict}", **evidence)
    return failed(f"the endpoint's forecasts do not beat the seasonal naive: {verdict}", **evidence)


@check("C3.5", "Endpoint serves the champion", points=10, anchor="success-criteria", depends=("C3.2", "C1.3"), source="endpoint")
def serves_champion(ctx: TeamContext) -> Outcome:
    body = served(ctx)
    champion = ctx.mlflow.champion
    evidence = {"served": body["model"], "model": ctx.team.model}
    if champion is None:
        return failed(f"no version of {ctx.team.model!r} carries the tag 'champion'", **evidence)
    evidence["champion"] = champion.version
    if body["model"]["name"] != ctx.team.model or body["model"]["version"] != str(champion.version):
        return failed(f"the endpoint serves {body['model']['name']} version {body['model']['version']}, the champion "
                      f"is {ctx.team.model} version {champion.version}: redeploy the champion", **evidence)
    end = (champion.tags or {}).get("train_end")
    if end and body["dates"][0] != pd.Timestamp(end) + pd.Timedelta(days=1):
        return failed(f"the endpoint says version {champion.version} but forecasts from {body['dates'][0]:%Y-%m-%d}, "
                      f"not the day after the champion's training end {end}", **evidence)
    return passed(f"the endpoint serves the champion, version {champion.version}", **evidence)


@check("C3.6", "Succeeded release pipeline run", points=10, anchor="success-criteria", depends=("C0.1",))
def release_run(ctx: TeamContext) -> Outcome:
    """A finished release pipeline run whose smoke-test step finished. Offline, a succeeded CI run made
    it, production was approved in that run's record, and it released the champion (the version C3.5
    finds serving)."""
    evidence = {}
    champion = ctx.mlflow.champion
    for run in pipeline_runs(ctx, RELEASE_PIPELINE, evidence):
        if run.info.status != "FINISHED":
            continue
        steps = {c.data.tags.get(STEP_TAG): c.info.status for c in ctx.mlflow.children(run.info.run_id)}
        if steps.get(SMOKE_TEST_STEP) != "FINISHED":
            evidence.setdefault("finished_without_smoke_test", run.info.run_id)
            continue
        version = run.data.tags.get(RELEASED_VERSION)
        if ctx.devops is not None:
            released = (f"its {RELEASED_VERSION} tag names version {version}" if version else
                        f"it has no {RELEASED_VERSION} tag naming the version it released")
            return passed(f"release pipeline run {run.info.run_id[:8]} finished, its smoke test passed; {released}",
                          steps=steps, model_version=version, **evidence)
        record = ctx.ci.backed(run.data.tags.get(BUILD_ID), conclusion="success")
        if record is None:
            evidence.setdefault("ci_run_not_succeeded", f"{run.info.run_id[:8]}: {BUILD_ID} {run.data.tags.get(BUILD_ID)}")
            continue
        approval = next((a for a in record.approvals if a.get("decision") == "approved"), None)
        if approval is None:
            evidence.setdefault("not_approved", f"CI run #{record.number}")
            continue
        if champion is None or version != str(champion.version):
            evidence.setdefault("released_another_version", f"CI run #{record.number} released version {version}")
            continue
        return passed(f"CI run #{record.number} ({record.workflow}) released version {version}, the champion: its release "
                      f"pipeline run {run.info.run_id[:8]} finished with a passing smoke test, after {approval.get('by')} "
                      f"approved {approval.get('environment')} at {approval.get('at')}", steps=steps,
                      model_version=version, ci_run=record.number, approval=approval, **evidence)
    offline = ("" if ctx.devops is not None else ", made by a succeeded CI run whose record shows production approved "
               "(`wth ci approve`), releasing the champion")
    return failed(f"no succeeded release pipeline run with a smoke-test step (a run tagged {PIPELINE_TAG}={RELEASE_PIPELINE}, "
                  f"FINISHED, with a FINISHED child run tagged {STEP_TAG}={SMOKE_TEST_STEP}{offline})", **evidence)
