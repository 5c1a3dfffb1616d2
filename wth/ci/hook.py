"""The origin's `post-receive` hook: each branch a push updates runs the workflows whose `push`
trigger matches it (branches, and paths against the files the push changed), on the pushed commit,
as GitHub does. What it starts is printed back to the
pusher (git shows it as `remote:` lines)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UsageError
from . import runner
from .origin import Origin

ZERO = "0" * 40


def on_push(origin: Origin, updates: list[tuple[str, str, str]]) -> list[str]:
    lines = []
    for before, after, ref in updates:
        if not ref.startswith("refs/heads/") or after == ZERO:
            continue
        branch = ref.removeprefix("refs/heads/")
        changed = None if before == ZERO else origin.changed(before, after)
        for workflow in origin.workflows_at(after):
            if workflow.error or workflow.runs_on_push(branch, changed):
                record = runner.queue(origin, workflow, "push", after, branch, before=before)
                verb = "is invalid" if workflow.error else "queued"
                lines.append(f"CI: {workflow.file} run #{record.number} {verb} on {after[:8]} ({branch}): "
                             f"`wth ci watch {record.number}` follows it")
    return lines


def main() -> int:
    updates = [tuple(line.split()) for line in sys.stdin if len(line.split()) == 3]
    try:
        lines = on_push(Origin(Path.cwd()), updates)
    except UsageError as err:
        print(f"CI: {err}")
        return 0  # the push itself stands; CI says why it did not start
    print("\n".join(lines) if lines else "CI: no workflow runs on this push (.github/workflows/*.yml, on: push)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
