"""The Azure DevOps pipelines (.pipelines/) and their GitHub Actions equivalents (.github/workflows/).

What is validated, honestly:
- every top-level pipeline file against Microsoft's Azure Pipelines JSON schema (../shared/schemas);
- every template file against the schema's own definition for its kind (stepsTemplate,
  stagesTemplate, variablesTemplate): the schema validates templates as fragments, not as they
  expand into a pipeline; template references must resolve to files;
- every wth-solution / wth-grader command a step runs parses with the real CLI parser, after
  `$(variable)` macros are replaced by values from templates/variables.yml and
  `${{ parameters.x }}` expressions by the parameter's default (or `0` when it has none);
- the structure the hack relies on (test publishing, pipeline resource trigger, approval-gated
  production environment, schedules), which the schema cannot express.
Azure DevOps itself is not run: these files are only tested against the documented schema.
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from docs_tools import REPO_ROOT, SHARED, commands_in, parse_error

PIPELINES = REPO_ROOT / ".pipelines"
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SCHEMA = SHARED / "schemas" / "azure-pipelines.schema.json"
TOP = sorted(PIPELINES.glob("*.yml"))
TEMPLATES = sorted((PIPELINES / "templates").glob("*.yml"))
GITHUB = sorted(p for p in WORKFLOWS.glob("*.yml") if p.name != "project-ci.yml")  # the project's own CI: tests/serve


def load(path: Path):
    """Every scalar as a string, as Azure Pipelines reads YAML (the schema expects `"true"`, not True)."""
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)


def walk(node, key=None):
    """(key, value) of every mapping entry in a YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, key)


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} is absent: cannot validate the pipelines against Microsoft's schema")
    schema = json.loads(SCHEMA.read_text())

    def validate(document, definition=None):
        target = schema if definition is None else {"$ref": f"#/definitions/{definition}",
                                                    "definitions": schema["definitions"]}
        error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(target).iter_errors(document))
        return [] if error is None else [f"{list(error.absolute_path)}: {error.message[:300]}"]

    return validate


def test_the_pipelines_exist():
    assert {p.name for p in TOP} == {"build.yml", "release.yml", "retrain.yml", "drift.yml"}
    assert {"variables.yml", "install.yml", "tests.yml", "wth.yml"} <= {p.name for p in TEMPLATES}
    assert {p.name for p in GITHUB} == {"build.yml", "release.yml", "retrain.yml", "drift.yml"}


@pytest.mark.parametrize("path", TOP, ids=lambda p: p.name)
def test_pipeline_validates_against_the_schema(validator, path):
    assert validator(load(path)) == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_validates_as_its_fragment_kind(validator, path):
    document = load(path)
    kind = next(k for k in ("steps", "jobs", "stages", "variables") if k in document)
    assert validator(document, f"{kind}Template") == []


@pytest.mark.parametrize("path", TOP + TEMPLATES, ids=lambda p: p.name)
def test_template_references_resolve(path):
    for key, value in walk(load(path)):
        if key == "template":
            assert (path.parent / value).is_file(), f"{path.name}: template {value} not found"


def variables() -> dict[str, str]:
    entries = load(PIPELINES / "templates" / "variables.yml")["variables"]
    return {e["name"]: str(e["value"]) for e in entries if "name" in e}


def expand(text: str, parameters: dict[str, str]) -> str:
    known = variables()
    text = re.sub(r"\$\((\w+)\)", lambda m: known.get(m.group(1), "0"), text)
    return re.sub(r"\$\{\{\s*(?:parameters|inputs|vars|env)\.(\w+)\s*\}\}",
                  lambda m: parameters.get(m.group(1), "0"), text)


def step_commands(path: Path) -> list[list[str]]:
    document = load(path)
    params = {p["name"]: str(p["default"]) for p in document.get("parameters", []) or []
              if isinstance(p, dict) and "default" in p}
    if path.parent == WORKFLOWS:  # GitHub: workflow_dispatch inputs play the role of parameters
        inputs = (document.get("on", document.get(True)) or {}).get("workflow_dispatch") or {}
        params = {k: str(v.get("default", "0")) for k, v in (inputs.get("inputs") or {}).items()}
    commands = []
    for key, value in walk(document):
        if key in ("script", "bash", "inlineScript", "command", "run") and isinstance(value, str):
            commands += commands_in(expand(value, params))
    return commands


ALL = TOP + TEMPLATES + GITHUB


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_command_parses_with_the_real_cli(path):
    for argv in step_commands(path):
        assert parse_error(argv) is None, f"{path.name}: {' '.join(argv)}: {parse_error(argv)}"


def test_each_ml_pipeline_runs_its_wth_command():
    expected = {"build.yml": ["pipeline", "build"], "release.yml": None, "retrain.yml": ["pipeline", "retrain"],
                "drift.yml": ["pipeline", "drift"]}
    release = [argv[1:3] for argv in step_commands(PIPELINES / "templates" / "release-stage.yml")]
    assert ["pipeline", "release"] in release
    for folder in (PIPELINES, WORKFLOWS):
        for name, command in expected.items():
            found = [argv[1:3] for argv in step_commands(folder / name)]
            if command:
                assert command in found, f"{folder.name}/{name} never runs wth-solution {' '.join(command)}"
    assert ["pipeline", "release"] in [argv[1:3] for argv in step_commands(WORKFLOWS / "release.yml")]


def test_build_publishes_tests_coverage_and_the_model():
    tasks = [v for k, v in walk(load(PIPELINES / "templates" / "tests.yml")) if k == "task"]
    assert {"PublishTestResults@2", "PublishCodeCoverageResults@1"} <= set(tasks)
    build = load(PIPELINES / "build.yml")
    assert [v for k, v in walk(build) if k == "artifact"] == ["model"]


def test_release_is_triggered_by_build_and_gates_production():
    release = load(PIPELINES / "release.yml")
    resource = release["resources"]["pipelines"][0]
    assert resource["trigger"] and resource["source"]
    stages = {s["parameters"]["name"]: s["parameters"] for s in release["stages"]}
    assert stages["production"]["dependsOn"] == ["staging"]
    assert stages["production"]["environment"] != stages["staging"]["environment"]
    template = load(PIPELINES / "templates" / "release-stage.yml")
    job = template["stages"][0]["jobs"][0]
    assert "deployment" in job and job["environment"] == "${{ parameters.environment }}"


@pytest.mark.parametrize("name", ["retrain.yml", "drift.yml"])
def test_scheduled_pipelines_have_a_schedule(name):
    schedule = load(PIPELINES / name)["schedules"][0]
    assert len(schedule["cron"].split()) == 5
    workflow = load(WORKFLOWS / name)
    on = workflow.get("on", workflow.get(True))
    assert len(on["schedule"][0]["cron"].split()) == 5 and "workflow_dispatch" in on


def test_variable_group_is_named():
    entries = load(PIPELINES / "templates" / "variables.yml")["variables"]
    assert [e["group"] for e in entries if "group" in e] == ["wth-mlops"]


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflow_has_the_required_keys(path):
    workflow = load(path)
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert workflow.get("name") and on and workflow.get("jobs")
    for name, job in workflow["jobs"].items():
        assert "runs-on" in job, f"{path.name}: job {name} has no runs-on"
        assert job.get("steps"), f"{path.name}: job {name} has no steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{path.name}: a step needs exactly one of uses/run"
