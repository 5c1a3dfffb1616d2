"""The workflow files of a commit and what triggers them, read as GitHub reads them.

Only what decides *whether* a workflow runs is read here: `on:` (push branches, workflow_dispatch
inputs, schedule crons); act reads everything else when it executes the workflow. A workflow file
that is not valid YAML or not a mapping is reported with its reason, as GitHub shows a broken file
in its Actions tab, and never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from croniter import croniter

FOLDER = ".github/workflows"
MAX_BYTES = 256 * 1024  # a workflow file larger than this is refused unread (a YAML bomb is no workflow)


@dataclass(frozen=True)
class Workflow:
    path: str  # relative to the repository root, e.g. .github/workflows/build.yml
    name: str
    triggers: dict = field(default_factory=dict)  # event -> its settings ({} when given without any)
    error: str | None = None

    @property
    def file(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def runs_on_push(self, branch: str, changed: list[str] | None = None) -> bool:
        """Whether a push to `branch` changing the files `changed` (None: unknown, as for a new branch)
        runs this workflow: its `branches`/`branches-ignore` and `paths`/`paths-ignore` filters, as GitHub
        reads them."""
        if self.error or "push" not in self.triggers:
            return False
        settings = self.triggers["push"] or {}
        if not isinstance(settings, dict):
            return True
        if "branches" in settings and not any(_glob(branch, p) for p in _list(settings["branches"])):
            return False
        if "branches-ignore" in settings and any(_glob(branch, p) for p in _list(settings["branches-ignore"])):
            return False
        if "tags" in settings and "branches" not in settings and "branches-ignore" not in settings:
            return False  # a push filter on tags only does not run for a branch
        if changed is None:
            return True
        if "paths" in settings:
            return any(_glob(path, p) for path in changed for p in _list(settings["paths"]))
        if "paths-ignore" in settings:
            return not all(any(_glob(path, p) for p in _list(settings["paths-ignore"])) for path in changed)
        return True

    @property
    def inputs(self) -> dict[str, dict]:
        """workflow_dispatch's inputs: name -> {default, required, ...}."""
        settings = self.triggers.get("workflow_dispatch") or {}
        found = settings.get("inputs") if isinstance(settings, dict) else None
        return {str(k): (v if isinstance(v, dict) else {}) for k, v in (found or {}).items()}

    @property
    def crons(self) -> list[str]:
        entries = self.triggers.get("schedule") or []
        return [str(e["cron"]) for e in _list(entries) if isinstance(e, dict) and "cron" in e]


def _glob(name: str, pattern) -> bool:
    """GitHub's filter pattern: `*` within one path part, `**` across parts, `?` one character."""
    regex = ""
    for part in re.split(r"(\*\*/?|\*|\?)", str(pattern)):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.fullmatch(regex, name) is not None


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a schedule GitHub would run (five fields, each valid), or None."""
    if len(cron.split()) != 5:
        return f"{cron!r} is not a cron schedule of five fields (minute hour day month weekday)"
    if not croniter.is_valid(cron):
        return f"{cron!r} is not a valid cron schedule"
    return None


def parse(path: str, text: bytes) -> Workflow:
    """A workflow from its file's bytes; `error` says why it cannot run."""
    name = path.rsplit("/", 1)[-1]
    if len(text) > MAX_BYTES:
        return Workflow(path, name, error=f"{path} is larger than {MAX_BYTES // 1024} KiB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        return Workflow(path, name, error=f"{path} is not valid YAML: {str(err).splitlines()[0]}")
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        return Workflow(path, name, error=f"{path} has no jobs: mapping")
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true
    if isinstance(on, str):
        triggers = {on: {}}
    elif isinstance(on, list):
        triggers = {str(e): {} for e in on}
    elif isinstance(on, dict):
        triggers = {str(k): v for k, v in on.items()}
    else:
        return Workflow(path, name, error=f"{path} has no `on:` triggers")
    workflow = Workflow(path, str(data.get("name") or name), triggers)
    for cron in workflow.crons:
        if problem := cron_problem(cron):
            return Workflow(path, workflow.name, triggers, error=f"{path}: {problem}")
    return workflow


def is_workflow_path(path: str) -> bool:
    """Whether a repository path is a workflow file GitHub would read (directly in .github/workflows)."""
    folder, _, name = path.rpartition("/")
    return folder == FOLDER and name.endswith((".yml", ".yaml"))
