"""Challenge 05 (optional): drift verdicts on the published batches, a report, a scheduled pipeline."""

from __future__ import annotations

from pathlib import Path

from wth.ci import workflows
from wth.workspace_contract import (
    BATCH_FILES,
    BATCH_SHA256,
    BUILD_ID,
    DRIFT_DETECTED,
    DRIFT_PIPELINE,
    DRIFT_REPORT,
    DRIFT_SCORE,
    PIPELINE_TAG,
    VERDICT,
)

from ..context import TeamContext
from ..probes import pipelines
from ..probes.commands import Command, RepoCode, Runs, Unresolved, mentions
from . import OFFLINE_RUNS_ACTIONS, Outcome, check, failed, passed, require_repo


def _verdicts(ctx: TeamContext, kind: str):
    digest = ctx.session.batch_sha256()[kind]
    runs = [r for r in ctx.mlflow.pipeline_runs(DRIFT_PIPELINE) if r.data.tags.get(BATCH_SHA256) == digest]
    seen = sorted({r.data.tags.get(BATCH_SHA256, "")[:12] for r in ctx.mlflow.pipeline_runs(DRIFT_PIPELINE)})
    return runs, digest, seen


def _drift_check(ctx: TeamContext, kind: str, expected: float) -> Outcome:
    runs, digest, seen = _verdicts(ctx, kind)
    file = f"resources/data/{BATCH_FILES[kind]}"
    evidence = {BATCH_SHA256: digest[:12], "drift_runs_seen_for_batches": seen}
    judged = [r for r in runs if DRIFT_DETECTED in r.data.metrics]
    if not judged:
        return failed(f"no drift pipeline run on the published {kind} batch ({file}, sha256 {digest[:12]}): run your "
                      f"drift pipeline on it, tagging {BATCH_SHA256} and logging {DRIFT_DETECTED}", **evidence)
    run = judged[0]
    said = run.data.metrics[DRIFT_DETECTED]
    evidence.update({"run_id": run.info.run_id, DRIFT_DETECTED: said, VERDICT: run.data.tags.get(VERDICT),
                     DRIFT_SCORE: run.data.metrics.get(DRIFT_SCORE)})
    want = "drift" if expected else "no drift"
    if said != expected:
        return failed(f"your drift run on the {kind} batch says {'drift' if said else 'no drift'}; it should say {want}",
                      **evidence)
    return passed(f"drift run {run.info.run_id[:8]} on the {kind} batch says {want}", **evidence)


@check("C5.1", "Drift run on the drifted batch says drift", points=5, anchor="success-criteria", depends=("C0.1",))
def drifted_batch(ctx: TeamContext) -> Outcome:
    return _drift_check(ctx, "drifted", 1.0)


@check("C5.2", "Drift run on the clean batch says no drift", points=5, anchor="success-criteria", depends=("C0.1",))
def clean_batch(ctx: TeamContext) -> Outcome:
    return _drift_check(ctx, "clean", 0.0)


@check("C5.3", "Drift report artifact", points=5, anchor="success-criteria", depends=("C0.1",))
def drift_report(ctx: TeamContext) -> Outcome:
    runs = ctx.mlflow.pipeline_runs(DRIFT_PIPELINE)[:10]
    for run in runs:
        found = [a for a in ctx.mlflow.artifact_files(run.info.run_id) if a.path.endswith(DRIFT_REPORT)]
        if found and (found[0].file_size or 0) > 0:
            return passed(f"drift run {run.info.run_id[:8]} has {found[0].path} ({found[0].file_size:,} bytes)",
                          run_id=run.info.run_id, artifact=found[0].path, bytes=found[0].file_size)
    return failed(f"no drift pipeline run has a non-empty {DRIFT_REPORT} artifact: log your report with mlflow.log_artifact",
                  drift_runs=[r.info.run_id[:8] for r in runs])


def _schedules(data) -> list:
    if not isinstance(data, dict):
        return []
    found = list(data.get("schedules") or [])  # Azure Pipelines
    trigger = data.get("on", data.get(True))  # GitHub Actions ("on" parses as True in YAML 1.1)
    if isinstance(trigger, dict) and trigger.get("schedule"):
        found += list(trigger["schedule"])
    return [s for s in found if isinstance(s, dict) and s.get("cron")]


def drift_step(code: RepoCode | Path, words: list[str] | tuple[str, ...]) -> str | None:
    """What a command runs when it is a drift step of the team's own code: a file of the repository
    (python FILE, python -m MODULE, FILE.py) or a command it defines, named drift (in part)."""
    code = code if isinstance(code, RepoCode) else RepoCode(code)
    found = code.runs(Command(tuple(words)))
    return found.label if isinstance(found, Runs) and found.kind != "tests" and found.mentions("drift") else None


def scheduled_definitions(repo: Path) -> tuple[list[Outcome], Outcome | None]:
    """A passing outcome for each pipeline file with a valid cron schedule whose steps run the team's drift
    check (a script of the repository or a command it defines, named drift), else why none does."""
    files = pipelines.pipeline_files(repo)
    code, scheduled, without_step, complete = RepoCode(repo), [], {}, []
    for entry in files:
        crons = _schedules(entry.data)
        if not crons:
            continue
        scheduled.append(entry.path)
        invalid = [p for c in crons if (p := workflows.cron_problem(str(c["cron"])))]
        if invalid:
            without_step[entry.path] = invalid[:1]
            continue
        commands = [c for step in pipelines.expand(repo, files, entry).steps for c in code.commands(step.script)]
        steps = [found for command in commands if (found := drift_step(code, command.words))]
        if not steps:
            said = [(c, code.runs(c)) for c in commands if mentions(c.words, "drift")]
            without_step[entry.path] = [r.text if isinstance(r, Unresolved) else c.text for c, r in said][:5]
            continue
        complete.append(passed(f"{entry.path} runs the drift step {steps[0]} on a schedule ({crons[0]['cron']})",
                               pipeline=entry.path, crons=[c["cron"] for c in crons], drift_step=steps[0]))
    if complete:
        return complete, None
    if without_step:
        first, lines = next(iter(without_step.items()))
        return [], failed(f"{first} runs on a schedule but none of its steps runs a drift check that exists (a script "
                          f"of your repository or a command it defines, named drift), or its cron is invalid: saw "
                          f"{'; '.join(lines) or 'no drift step at all'}", scheduled_pipelines=scheduled,
                          drift_mentions=without_step)
    return [], failed("no pipeline both runs on a schedule (on: schedule: - cron: ..., or Azure's schedules:) and runs "
                      f"drift detection; looked in {', '.join(pipelines.PIPELINE_GLOBS)}", scheduled_pipelines=scheduled,
                      pipelines=[f.path for f in files][:20])


@check("C5.4", "Scheduled drift pipeline defined", points=5, anchor="success-criteria", depends=("C0.1",), source="repo")
def scheduled_drift(ctx: TeamContext) -> Outcome:
    """A scheduled pipeline that runs the team's drift check (`scheduled_definitions`) and has run: offline, a
    succeeded CI run of a commit of the repository recorded a drift pipeline run (build_id = its number);
    Azure path, the workspace holds drift runs."""
    complete, failure = scheduled_definitions(require_repo(ctx))
    if failure is not None:
        return failure
    reasons = []
    for outcome in complete:
        path, evidence = outcome.evidence["pipeline"], outcome.evidence
        if ctx.devops is not None:
            runs = ctx.mlflow.pipeline_runs(DRIFT_PIPELINE)
            evidence = {**evidence, "drift_runs": [f"{r.info.run_id[:8]} {r.info.status}" for r in runs[:5]]}
            if runs:
                return passed(f"{outcome.message}; the workspace holds {len(runs)} drift run(s)", **evidence)
            reasons.append((f"{outcome.message}, but the workspace holds no drift run (tagged {PIPELINE_TAG}={DRIFT_PIPELINE}): run "
                            "the pipeline once", evidence))
            continue
        record, why = _ran(ctx, path)
        if record is not None:
            return passed(f"{outcome.message}; CI run #{record.number} ({record.event} on {record.sha[:8]}) ran it and "
                          "recorded a drift pipeline run", ci_run=record.number, **evidence)
        reasons.append((f"{outcome.message}, but {why}", evidence))
    return failed(reasons[0][0], **reasons[0][1])


def _ran(ctx: TeamContext, path: str):
    """The newest succeeded CI run of workflow `path` that the repository backs and that recorded a drift
    pipeline run (None and why not). Offline, only GitHub Actions workflows run."""
    if not workflows.is_workflow_path(path):
        return None, OFFLINE_RUNS_ACTIONS
    made = {r.data.tags.get(BUILD_ID) for r in ctx.mlflow.pipeline_runs(DRIFT_PIPELINE) if r.info.status == "FINISHED"}
    tried = ctx.ci.succeeded(path)
    for found in tried:
        if found.problem is None and str(found.record.number) in made:
            return found.record, ""
    seen = ", ".join(f"#{v.record.number}" + (f" ({v.problem})" if v.problem else f" (no drift pipeline run has its {BUILD_ID})")
                     for v in tried[:3])
    return None, (f"no succeeded CI run of it recorded a drift pipeline run (succeeded runs: {seen or 'none'}): run it "
                  "now as its schedule would, `wth ci schedule " + path.rsplit("/", 1)[-1] + "`")
