"""Challenge 05 (optional): drift verdicts on the published batches, a report, a scheduled pipeline."""

from __future__ import annotations

from ..probes import repo as repo_probe
from . import check, failed, passed

REPORT = "drift_report.html"


def _verdicts(team, kind: str):
    digest = team.session.batch_sha256()[kind]
    runs = [r for r in team.mlflow.pipeline_runs("drift") if r.data.tags.get("batch_sha256") == digest]
    seen = sorted({r.data.tags.get("batch_sha256", "")[:12] for r in team.mlflow.pipeline_runs("drift")})
    return runs, digest, seen


def _drift_check(team, kind: str, expected: float):
    runs, digest, seen = _verdicts(team, kind)
    file = f"resources/data/batch-{kind}.csv.gz"
    evidence = {"batch_sha256": digest[:12], "drift_runs_seen_for_batches": seen}
    judged = [r for r in runs if "drift_detected" in r.data.metrics]
    if not judged:
        return failed(f"no drift pipeline run on the published {kind} batch ({file}, sha256 {digest[:12]}): run your "
                      "drift pipeline on it, tagging batch_sha256 and logging drift_detected", **evidence)
    run = judged[0]
    said = run.data.metrics["drift_detected"]
    evidence.update(run_id=run.info.run_id, drift_detected=said, verdict=run.data.tags.get("verdict"),
                    drift_score=run.data.metrics.get("drift_score"))
    want = "drift" if expected else "no drift"
    if said != expected:
        return failed(f"your drift run on the {kind} batch says {'drift' if said else 'no drift'}; it should say {want}",
                      **evidence)
    return passed(f"drift run {run.info.run_id[:8]} on the {kind} batch says {want}", **evidence)


@check("C5.1", "Drift run on the drifted batch says drift", points=5, anchor="success-criteria", depends=("C0.1",))
def drifted_batch(team) -> object:
    return _drift_check(team, "drifted", 1.0)


@check("C5.2", "Drift run on the clean batch says no drift", points=5, anchor="success-criteria", depends=("C0.1",))
def clean_batch(team) -> object:
    return _drift_check(team, "clean", 0.0)


@check("C5.3", "Drift report artifact", points=5, anchor="success-criteria", depends=("C0.1",))
def drift_report(team) -> object:
    runs = team.mlflow.pipeline_runs("drift")[:10]
    for run in runs:
        found = [a for a in team.mlflow.artifact_files(run.info.run_id) if a.path.endswith(REPORT)]
        if found and (found[0].file_size or 0) > 0:
            return passed(f"drift run {run.info.run_id[:8]} has {found[0].path} ({found[0].file_size:,} bytes)",
                          run_id=run.info.run_id, artifact=found[0].path, bytes=found[0].file_size)
    return failed(f"no drift pipeline run has a non-empty {REPORT} artifact: log your report with mlflow.log_artifact",
                  drift_runs=[r.info.run_id[:8] for r in runs])


def _schedules(data) -> list:
    if not isinstance(data, dict):
        return []
    found = list(data.get("schedules") or [])  # Azure Pipelines
    trigger = data.get("on", data.get(True))  # GitHub Actions ("on" parses as True in YAML 1.1)
    if isinstance(trigger, dict) and trigger.get("schedule"):
        found += list(trigger["schedule"])
    return [s for s in found if isinstance(s, dict) and s.get("cron")]


@check("C5.4", "Scheduled drift pipeline defined", points=5, anchor="success-criteria", source="repo")
def scheduled_drift(team) -> object:
    repo = team.repo
    if repo is None or not repo.is_dir():
        return failed(f"no repository at {repo}: the grader cannot see your pipelines", repo=str(repo))
    files = repo_probe.pipeline_files(repo)
    scheduled = []
    for entry in files:
        crons = _schedules(entry.data)
        if not crons:
            continue
        parts = repo_probe.expand_templates(repo, files, entry)
        mentions = any("drift" in s.lower() for part in parts for s in part.strings() if isinstance(s, str))
        scheduled.append(entry.path)
        if mentions:
            return passed(f"{entry.path} runs drift detection on a schedule ({crons[0]['cron']})",
                          pipeline=entry.path, crons=[c["cron"] for c in crons])
    return failed("no pipeline both runs on a schedule (schedules: - cron: ...) and runs drift detection",
                  scheduled_pipelines=scheduled, pipelines=[f.path for f in files][:20])
