"""Challenge 05 (optional): drift verdicts on the published batches, a report, a scheduled pipeline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ..context import TeamContext
from ..probes import repo as repo_probe
from . import Outcome, check, failed, passed, require_repo

REPORT = "drift_report.html"


def _verdicts(ctx: TeamContext, kind: str):
    digest = ctx.session.batch_sha256()[kind]
    runs = [r for r in ctx.mlflow.pipeline_runs("drift") if r.data.tags.get("batch_sha256") == digest]
    seen = sorted({r.data.tags.get("batch_sha256", "")[:12] for r in ctx.mlflow.pipeline_runs("drift")})
    return runs, digest, seen


def _drift_check(ctx: TeamContext, kind: str, expected: float) -> Outcome:
    runs, digest, seen = _verdicts(ctx, kind)
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
def drifted_batch(ctx: TeamContext) -> Outcome:
    return _drift_check(ctx, "drifted", 1.0)


@check("C5.2", "Drift run on the clean batch says no drift", points=5, anchor="success-criteria", depends=("C0.1",))
def clean_batch(ctx: TeamContext) -> Outcome:
    return _drift_check(ctx, "clean", 0.0)


@check("C5.3", "Drift report artifact", points=5, anchor="success-criteria", depends=("C0.1",))
def drift_report(ctx: TeamContext) -> Outcome:
    runs = ctx.mlflow.pipeline_runs("drift")[:10]
    for run in runs:
        found = [a for a in ctx.mlflow.artifact_files(run.info.run_id) if a.path.endswith(REPORT)]
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


HACK_DRIFT_COMMANDS = (("wth-solution", "drift"), ("wth-solution", "pipeline", "drift"))  # the hack's own tools
PYTHONS = ("python", "python3", "py")


def _commands(text: str) -> list[list[str]]:
    """The shell commands in a script string, each as its words."""
    out = []
    for line in text.splitlines():
        for segment in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(segment, comments=True)
            except ValueError:
                words = segment.split()
            if words:
                out.append(words)
    return out


def _exists(repo: Path, path: str) -> str | None:
    """`path` as a file of the repository (relative to its root, or a suffix of a file in it)."""
    path = re.sub(r"^(\$\([\w.]+\)|\$\{\{[^}]*\}\}|\$\w+)/", "", path).removeprefix("./")
    if not path or path.startswith(("/", "..")):
        return None
    if (repo / path).is_file():
        return path
    found = (p.relative_to(repo).as_posix() for p in repo_probe.walk(repo, Path(path).name))
    return next((rel for rel in found if rel.endswith("/" + path)), None)  # whole names: drift.py is not mydrift.py


def drift_step(repo: Path, words: list[str]) -> str | None:
    """What a command runs when it is a real drift step: a command of the hack's tools, or a script of
    the team's repository (python FILE, python -m MODULE, bash FILE, ./FILE) with drift in its command."""
    if not any("drift" in w.lower() for w in words):
        return None
    head = Path(words[0]).name
    plain = [w for w in words if not w.startswith("-")]
    if any(tuple(plain[:len(cmd)]) == cmd for cmd in HACK_DRIFT_COMMANDS):
        return " ".join(plain[:3])
    if head in PYTHONS and len(words) > 1:
        if words[1] == "-m" and len(words) > 2:
            module = words[2].replace(".", "/")
            return next((f for f in (f"{module}.py", f"{module}/__main__.py") if _exists(repo, f)), None)
        script = next((w for w in words[1:] if not w.startswith("-")), None)
        return _exists(repo, script) if script and script.endswith(".py") else None
    if head in ("bash", "sh") and len(words) > 1:
        return _exists(repo, words[1])
    if words[0].endswith((".py", ".sh")) or words[0].startswith("./"):
        return _exists(repo, words[0])
    return None


@check("C5.4", "Scheduled drift pipeline defined", points=5, anchor="success-criteria", depends=("C0.1",), source="repo")
def scheduled_drift(ctx: TeamContext) -> Outcome:
    repo = require_repo(ctx)
    files = repo_probe.pipeline_files(repo)
    scheduled, without_step = [], {}
    for entry in files:
        crons = _schedules(entry.data)
        if not crons:
            continue
        scheduled.append(entry.path)
        parts = repo_probe.expand_templates(repo, files, entry)
        texts = [s for part in parts for s in part.strings() if isinstance(s, str) and "drift" in s.lower()]
        steps = [found for text in texts for words in _commands(text) if (found := drift_step(repo, words))]
        if not steps:
            without_step[entry.path] = [t.strip()[:120] for t in texts][:5]
            continue
        evidence = {"pipeline": entry.path, "crons": [c["cron"] for c in crons], "drift_step": steps[0]}
        runs = ctx.mlflow.pipeline_runs("drift")
        evidence["drift_runs"] = [f"{r.info.run_id[:8]} {r.info.status}" for r in runs[:5]]
        if not runs:
            return failed(f"{entry.path} runs {steps[0]} on a schedule, but the workspace holds no drift run (tagged "
                          "wth.pipeline=drift): run the pipeline once", **evidence)
        return passed(f"{entry.path} runs the drift step {steps[0]} on a schedule ({crons[0]['cron']}); the workspace "
                      f"holds {len(runs)} drift run(s)", **evidence)
    if without_step:
        first, lines = next(iter(without_step.items()))
        return failed(f"{first} runs on a schedule but none of its steps runs a drift check that exists (a command "
                      f"of the hack's tools, or a script in your repository): saw {lines or 'no drift step at all'}",
                      scheduled_pipelines=scheduled, drift_mentions=without_step)
    return failed("no pipeline both runs on a schedule (schedules: - cron: ...) and runs drift detection",
                  scheduled_pipelines=scheduled, pipelines=[f.path for f in files][:20])
