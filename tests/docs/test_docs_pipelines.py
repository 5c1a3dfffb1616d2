"""The Azure DevOps pipelines (.pipelines/) and their GitHub Actions equivalents (Coach/Solutions/.github/).

What is validated, honestly:
- every top-level pipeline file against Microsoft's Azure Pipelines JSON schema (../shared/schemas);
- every GitHub workflow and the composite action they install through against GitHub's schemas, as
  check-jsonschema vendors them from SchemaStore;
- every template file against the schema's own definition for its kind (stepsTemplate,
  stagesTemplate, variablesTemplate): the schema validates templates as fragments, not as they
  expand into a pipeline; template references must resolve to files;
- every wth-solution / wth-grader command a step runs parses with the real CLI parser, after
  `$(variable)` macros are replaced by values from templates/variables.yml and
  `${{ parameters.x }}` expressions by the parameter's default (or `0` when it has none);
- the structure the hack relies on (test publishing, pipeline resource trigger, approval-gated
  production environment, schedules), which the schema cannot express;
- the two paths kept apart: the offline files (build, release, retrain, drift) run on a self-hosted
  agent and never sign in to Azure; the Azure-path files (azureml-*) sign in with AzureCLI@2 on an
  ARM service connection named by a variable (GitHub: azure/login with OIDC), and no file anywhere
  holds or passes a client secret.
Azure DevOps itself is not run: these files are only tested against the documented schema.
"""

import importlib.resources
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from docs_tools import REPO_ROOT, SHARED, commands_in, parse_error

PIPELINES = REPO_ROOT / ".pipelines"
# the hack's reference workflows, copied into a repository's root to run; the root .github/ is the project's CI
REFERENCE = REPO_ROOT / "Coach" / "Solutions" / ".github"
WORKFLOWS = REFERENCE / "workflows"
INSTALL = REFERENCE / "actions" / "install" / "action.yml"
SCHEMA = SHARED / "schemas" / "azure-pipelines.schema.json"
TOP = sorted(PIPELINES.glob("*.yml"))
TEMPLATES = sorted((PIPELINES / "templates").glob("*.yml"))
GITHUB = sorted(WORKFLOWS.glob("*.yml"))
ML = ("build.yml", "release.yml", "retrain.yml", "drift.yml")
AZURE = tuple(f"azureml-{name}" for name in ML)


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
    assert {p.name for p in TOP} == set(ML + AZURE)
    assert {"variables.yml", "azureml-variables.yml", "install.yml", "tests.yml", "wth.yml", "azureml.yml",
            "release-stage.yml", "azureml-release-stage.yml"} <= {p.name for p in TEMPLATES}
    assert {p.name for p in GITHUB} == set(ML + AZURE)


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


def variables(name: str = "variables.yml") -> dict[str, str]:
    """A variables template's values, with the templates it includes (later entries win)."""
    known = {}
    for entry in load(PIPELINES / "templates" / name)["variables"]:
        if "template" in entry:
            known.update(variables(entry["template"]))
        elif "name" in entry:
            known[entry["name"]] = str(entry["value"])
    return known


def expand(text: str, parameters: dict[str, str]) -> str:
    known = {**variables(), **variables("azureml-variables.yml")}
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
            for path in (folder / name, folder / f"azureml-{name}"):
                found = [argv[1:3] for argv in step_commands(path)]
                if command:
                    assert command in found, f"{folder.name}/{path.name} never runs wth-solution {' '.join(command)}"
    assert ["pipeline", "release"] in [argv[1:3] for argv in step_commands(WORKFLOWS / "release.yml")]


def _texts() -> list[Path]:
    return [*PIPELINES.rglob("*.yml"), *REFERENCE.rglob("*.yml")]


def test_no_pipeline_holds_or_passes_a_client_secret():
    for path in _texts():
        text = path.read_text()
        assert "AZURE_CLIENT_SECRET" not in text and "client-secret" not in text.lower(), path
        assert "creds:" not in text, f"{path}: azure/login with a JSON secret instead of OIDC"


def test_the_offline_path_never_signs_in_to_azure_and_outlives_the_run():
    for path in [PIPELINES / name for name in ML] + [PIPELINES / "templates" / n for n in ("wth.yml", "release-stage.yml")]:
        document = load(path)
        assert not [v for k, v in walk(document) if k == "task" and v.startswith("AzureCLI")], path
        assert "azureml" not in path.read_text().replace("azureml-", ""), path
    release = load(PIPELINES / "templates" / "release-stage.yml")["stages"][0]["jobs"][0]
    assert release["pool"] == {"name": "$(agentPool)"}  # a self-hosted agent: the local endpoint stays up


def _azure_cli_tasks(path: Path) -> list[dict]:
    return [step for key, steps in walk(load(path)) if key == "steps" for step in steps
            if isinstance(step, dict) and step.get("task") == "AzureCLI@2"]


def test_the_azure_path_runs_wth_solution_in_azure_cli_on_the_service_connection():
    azureml = PIPELINES / "templates" / "azureml.yml"
    [task] = _azure_cli_tasks(azureml)
    assert task["inputs"]["azureSubscription"] == "$(serviceConnection)"
    assert task["inputs"]["scriptType"] == "bash" and "${{ parameters.command }}" in task["inputs"]["inlineScript"]
    assert task["env"]["WTH_WORKSPACE"] == "azureml"
    assert variables("azureml-variables.yml")["serviceConnection"]
    assert "dev,azure" == variables("azureml-variables.yml")["pipExtras"]
    for name in AZURE:  # every wth-solution step of an Azure-path pipeline goes through that template
        document = load(PIPELINES / name)
        steps = [v for k, v in walk(document) if k == "template"]
        assert "templates/azureml.yml" in steps or "templates/azureml-release-stage.yml" in steps, name
        assert not [v for k, v in walk(document) if k == "script"], f"{name}: a plain script step has no Azure sign-in"
    stage = PIPELINES / "templates" / "azureml-release-stage.yml"
    assert all(t["inputs"]["azureSubscription"] == "$(serviceConnection)" for t in _azure_cli_tasks(stage))
    commands = [argv for argv in step_commands(stage) if argv[1:3] == ["pipeline", "release"]]
    assert commands and all("--target" in argv and argv[argv.index("--target") + 1] == "azureml" for argv in commands)


def test_the_azure_release_goes_through_staging_then_an_approved_production():
    release = load(PIPELINES / "azureml-release.yml")
    assert release["resources"]["pipelines"][0]["trigger"]
    stages = {s["parameters"]["name"]: s["parameters"] for s in release["stages"]}
    assert stages["production"]["dependsOn"] == ["staging"]
    assert stages["staging"]["endpoint"] != stages["production"]["endpoint"]
    assert (stages["staging"]["environment"], stages["production"]["environment"]) == (
        "wth-mlops-staging", "wth-mlops-production")
    job = load(PIPELINES / "templates" / "azureml-release-stage.yml")["stages"][0]["jobs"][0]
    assert job["environment"] == "${{ parameters.environment }}" and "runOnce" in job["strategy"]


@pytest.mark.parametrize("name", AZURE)
def test_github_azure_workflows_sign_in_with_oidc(name):
    workflow = load(WORKFLOWS / name)
    assert workflow["permissions"]["id-token"] == "write"
    for job_name, job in workflow["jobs"].items():
        runs = [s["run"] for s in job["steps"] if "run" in s and "wth-solution" in s["run"] and "pip" not in s["run"]]
        logins = [i for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith("azure/login@")]
        if not runs or job_name == "test":
            continue
        assert logins, f"{name}: job {job_name} runs wth-solution without azure/login"
        login = job["steps"][logins[0]]["with"]
        assert set(login) == {"client-id", "tenant-id", "subscription-id"}, login
        first = next(i for i, s in enumerate(job["steps"]) if "run" in s and "wth-solution" in s["run"])
        assert logins[0] < first


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


@pytest.mark.parametrize("name", ["retrain.yml", "drift.yml", "azureml-retrain.yml", "azureml-drift.yml"])
def test_scheduled_pipelines_have_a_schedule(name):
    schedule = load(PIPELINES / name)["schedules"][0]
    assert len(schedule["cron"].split()) == 5
    workflow = load(WORKFLOWS / name)
    on = workflow.get("on", workflow.get(True))
    assert len(on["schedule"][0]["cron"].split()) == 5 and "workflow_dispatch" in on


def test_variable_group_is_named():
    entries = load(PIPELINES / "templates" / "variables.yml")["variables"]
    assert [e["group"] for e in entries if "group" in e] == ["wth-mlops"]
    azure = load(PIPELINES / "templates" / "azureml-variables.yml")["variables"]
    assert not [e for e in azure if "group" in e]  # the Azure path needs no stored secret, so no group


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


def github_schema(name: str) -> dict:
    return json.loads((importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / name).read_text())


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflow_validates_against_githubs_schema(path):
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the bare key `on` as true; GitHub reads "on"
    jsonschema.validate(workflow, github_schema("github-workflows.json"))


def test_every_azure_job_installs_through_the_one_composite_action():
    jsonschema.validate(yaml.safe_load(INSTALL.read_text()), github_schema("github-actions.json"))
    for path in (WORKFLOWS / name for name in AZURE):
        for name, job in load(path)["jobs"].items():
            steps = job["steps"]
            assert steps[0]["uses"].startswith("actions/checkout@"), f"{path.name}: {name}"
            assert steps[1]["uses"] == "./.github/actions/install", f"{path.name}: {name}"
            assert not [s for s in steps if "pip install" in s.get("run", "")], f"{path.name}: {name} installs by itself"
    assert (REFERENCE.parent / steps[1]["uses"] / "action.yml").resolve() == INSTALL  # resolves once copied


def test_the_offline_workflows_run_under_act_without_the_network():
    """act runs them on the team's laptop: no remote action but actions/checkout (which act does itself),
    no install (the runner is the machine whose tools are installed), the self-hosted runner."""
    for path in (WORKFLOWS / name for name in ML):
        for name, job in load(path)["jobs"].items():
            assert job["runs-on"] == "self-hosted", f"{path.name}: {name}"
            for step in job["steps"]:
                uses = step.get("uses", "")
                assert not uses or uses.startswith("actions/checkout@"), f"{path.name}: {name} uses {uses}"
                assert "pip install" not in step.get("run", ""), f"{path.name}: {name} installs"


def test_the_offline_release_waits_for_a_person_before_production():
    jobs = load(WORKFLOWS / "release.yml")["jobs"]
    assert jobs["approval"]["needs"] == "staging" and jobs["production"]["needs"] == "approval"
    assert [s["run"] for s in jobs["approval"]["steps"]] == ["wth ci gate production"]
    assert jobs["production"]["environment"] == "production"


def test_the_projects_own_github_folder_holds_only_its_ci():
    assert [p.name for p in (REPO_ROOT / ".github").rglob("*") if p.is_file()] == ["project-ci.yml"]
