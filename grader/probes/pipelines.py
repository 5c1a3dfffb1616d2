"""A repository's pipeline definitions (Azure Pipelines YAML, GitHub Actions workflows) and what their
steps execute, templates expanded.

Only what runs is read: `script`/`bash`/`pwsh`/`powershell` steps, GitHub's `run:`, a task's inline
script or script file (AzureCLI@2's `inlineScript`/`scriptPath`, Bash@3's and PowerShell@2's
`script`/`filePath`, PythonScript@0's `scriptPath`); never a display name, a condition, a comment
or an action's `with:`. A `template:` reference (steps, jobs, stages, `extends`) is replaced by the
template with its `${{ parameters.x }}` expressions given the reference's values, else the
template's defaults, as Azure Pipelines expands it before a run; a GitHub workflow calling a
reusable workflow of the repository (`uses: ./.github/workflows/x.yml`) likewise, `with:` giving
its `${{ inputs.x }}`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PIPELINE_GLOBS = (".pipelines/**/*.yml", ".pipelines/**/*.yaml", "azure-pipelines*.yml", "azure-pipelines*.yaml",
                  ".azure-pipelines/**/*.yml", ".github/workflows/*.yml", ".github/workflows/*.yaml",
                  "pipelines/**/*.yml", "pipelines/**/*.yaml")
SHELL_KEYS = ("script", "bash", "pwsh", "powershell", "run")
NOT_RUN = {"parameters", "variables", "displayName", "name", "condition", "env", "inputs", "with", *SHELL_KEYS}
EXPRESSION = re.compile(r"\$\{\{\s*(?:parameters|inputs)(?:\.([\w-]+)|\[\s*['\"]([\w-]+)['\"]\s*\])\s*\}\}")
MAX_INCLUDES = 200  # templates expanded per pipeline (Azure Pipelines allows 100 files, 20 levels)
MAX_DEPTH = 20
MAX_NODES = 50_000  # YAML nodes visited per pipeline: aliases can make a small file expand without end
MAX_BYTES = 1_000_000  # a pipeline file larger than this is not read
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's where PyYAML has it: the same, ten times faster


@dataclass
class PipelineFile:
    path: str  # relative to the repo
    data: object  # parsed YAML (None if unparsable)
    text: str
    error: str | None = None


def read(root: Path, path: Path) -> PipelineFile:
    rel = path.relative_to(root).as_posix()
    if not path.resolve().is_relative_to(root.resolve()):  # its text would reach the team's report
        return PipelineFile(rel, None, "", "a link to outside the repository")
    if path.stat().st_size > MAX_BYTES:
        return PipelineFile(rel, None, "", f"larger than {MAX_BYTES:,} bytes")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data, error = yaml.load(text, Loader=LOADER), None
    except yaml.YAMLError as err:
        data, error = None, str(err).splitlines()[0]
    return PipelineFile(rel, data, text, error)


def pipeline_files(root: Path) -> list[PipelineFile]:
    seen, out = set(), []
    for pattern in PIPELINE_GLOBS:
        for path in sorted(root.glob(pattern)):
            if path not in seen and path.is_file():
                seen.add(path)
                out.append(read(root, path))
    return out


@dataclass(frozen=True)
class Step:
    """One thing a step executes: shell text (`script`), or the name of a task with no script."""

    file: str  # the pipeline file or template it is written in
    script: str = ""
    task: str = ""


@dataclass
class Expanded:
    steps: list[Step] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)  # every template expanded, once each
    problems: list[str] = field(default_factory=list)  # templates that name no readable file, an expansion cut short


def declared(data) -> dict:
    """A template's or workflow's parameters with their defaults."""
    if not isinstance(data, dict):
        return {}
    params = data.get("parameters")
    if isinstance(params, list):  # Azure Pipelines: - name: x, default: y
        out = {p["name"]: p["default"] for p in params if isinstance(p, dict) and "name" in p and "default" in p}
    elif isinstance(params, dict):  # the older form: x: default
        out = {k: v for k, v in params.items() if not isinstance(v, dict)}
    else:
        out = {}
    trigger = data.get("on", data.get(True))  # GitHub ("on" parses as True in YAML 1.1)
    if isinstance(trigger, dict):
        for event in ("workflow_call", "workflow_dispatch"):
            inputs = trigger.get(event).get("inputs") if isinstance(trigger.get(event), dict) else None
            for key, spec in (inputs or {}).items():
                if isinstance(spec, dict) and "default" in spec:
                    out.setdefault(key, spec["default"])
    return out


class _TooLarge(Exception):
    pass


class _Expansion:
    def __init__(self, root: Path, files: list[PipelineFile]):
        self.root, self.out, self.includes, self.nodes = root.resolve(), Expanded(), 0, 0
        self.files = {f.path: f for f in files}

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge

    def substitute(self, node, values: dict):
        """`node` with its `${{ parameters.x }}` / `${{ inputs.x }}` expressions replaced where `values`
        has x; an expression that is a whole value takes the value itself (a step list, a mapping)."""
        self.count()
        if isinstance(node, str):
            whole = EXPRESSION.fullmatch(node.strip())
            if whole and (whole.group(1) or whole.group(2)) in values:
                return values[whole.group(1) or whole.group(2)]
            return EXPRESSION.sub(lambda m: str(values.get(m.group(1) or m.group(2), m.group(0))), node)
        if isinstance(node, dict):
            return {self.substitute(k, values) if isinstance(k, str) else k: self.substitute(v, values)
                    for k, v in node.items()}
        if isinstance(node, list):
            return [self.substitute(v, values) for v in node]
        return node

    def document(self, entry: PipelineFile, values: dict, depth: int) -> None:
        self.visit(self.substitute(entry.data, {**declared(entry.data), **values}), entry.path, depth)

    def visit(self, node, where: str, depth: int) -> None:
        self.count()
        if isinstance(node, list):
            for item in node:
                self.visit(item, where, depth)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("template"), str):
            self.include(node["template"], node.get("parameters"), where, depth, from_root=False)
        uses = node.get("uses")
        if isinstance(uses, str) and uses.startswith("./") and uses.endswith((".yml", ".yaml")):
            self.include(uses, node.get("with"), where, depth, from_root=True)
        if isinstance(node.get("task"), str):
            self.task(node["task"], node.get("inputs") if isinstance(node.get("inputs"), dict) else {}, where)
        for key in SHELL_KEYS:
            if isinstance(node.get(key), str):
                self.out.steps.append(Step(where, node[key]))
        for key, value in node.items():
            if key not in NOT_RUN and key not in ("template", "task", "uses"):
                self.visit(value, where, depth)

    def task(self, name: str, inputs: dict, where: str) -> None:
        kind = name.split("@")[0]
        self.out.steps.append(Step(where, task=name))
        for key in ("inlineScript", "script"):
            if isinstance(inputs.get(key), str) and kind != "PythonScript":  # PythonScript's inline script is Python
                self.out.steps.append(Step(where, inputs[key]))
        path = inputs.get("scriptPath") or inputs.get("filePath")
        if isinstance(path, str) and path:
            runner = "python" if kind == "PythonScript" or path.endswith(".py") else "bash"
            arguments = inputs.get("arguments") or inputs.get("scriptArguments") or ""
            self.out.steps.append(Step(where, f"{runner} {shlex.quote(path)} {arguments}"))

    def include(self, ref: str, values, where: str, depth: int, from_root: bool) -> None:
        entry = self.find(ref, where, from_root)
        if entry is None or entry.error or not isinstance(entry.data, dict):
            self.out.problems.append(f"{ref} (in {where}) is not a readable file of the repository")
            return
        if depth >= MAX_DEPTH or self.includes >= MAX_INCLUDES:
            self.out.problems.append(f"{ref} (in {where}) not expanded: past {MAX_DEPTH} levels or {MAX_INCLUDES} templates")
            return
        self.includes += 1
        if entry.path not in self.out.templates:
            self.out.templates.append(entry.path)
        self.document(entry, values if isinstance(values, dict) else {}, depth + 1)

    def find(self, ref: str, where: str, from_root: bool) -> PipelineFile | None:
        """The file a reference names: relative to the referencing file, or (a leading / or GitHub's ./)
        to the repository's root; `path@repository` names another repository."""
        if "@" in ref or "${{" in ref:
            return None
        bases = [self.root] if from_root or ref.startswith("/") else [(self.root / where).parent, self.root]
        for base in bases:
            path = (base / ref.lstrip("/")).resolve()
            try:
                key = path.relative_to(self.root).as_posix()
            except ValueError:
                continue  # outside the repository
            if key not in self.files and path.is_file():
                self.files[key] = read(self.root, path)
            if key in self.files:
                return self.files[key]
        return None


def expand(root: Path, files: list[PipelineFile], entry: PipelineFile) -> Expanded:
    """What `entry`'s steps execute, its templates expanded with their parameters (a template used twice
    with other parameters is expanded twice), and the templates it used."""
    expansion = _Expansion(root, files)
    if entry.error is None and isinstance(entry.data, dict):
        try:
            expansion.document(entry, {}, 0)
        except _TooLarge:
            expansion.out.problems.append(f"{entry.path}: more than {MAX_NODES:,} YAML nodes once expanded")
    return expansion.out
