"""The Azure path without Azure: the managed online endpoint/deployment YAML is validated against the
documented schema keys and the files it points at, and the azureml-core code path runs against stand-ins
shaped like the SDK's documented classes (azureml-core is not installed and no cloud call is made)."""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

from solution.azure import deploy as azure
from solution.errors import StepFailed, UsageError

AZURE = Path(azure.__file__).parent
SOLUTION = AZURE.parent


def load(name: str) -> dict:
    return yaml.safe_load((AZURE / name).read_text())


def test_endpoint_yaml():
    spec = load("endpoint.yml")
    assert spec["$schema"] == "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", spec["name"])  # endpoint naming rules
    assert spec["auth_mode"] in {"key", "aml_token", "aad_token"}


def test_deployment_yaml_points_at_the_entry_script_and_environment():
    spec, endpoint_spec = load("deployment.yml"), load("endpoint.yml")
    assert spec["$schema"] == "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json"
    required = {"name", "endpoint_name", "model", "code_configuration", "environment", "instance_type", "instance_count"}
    assert required <= set(spec)
    assert spec["endpoint_name"] == endpoint_spec["name"]
    assert re.fullmatch(r"azureml:transactions-forecast:\d+", spec["model"])
    code = (AZURE / spec["code_configuration"]["code"]).resolve()
    assert code == SOLUTION and (code / spec["code_configuration"]["scoring_script"]).read_text().count("def run(") == 1
    assert isinstance(spec["instance_count"], int) and spec["instance_count"] >= 1
    assert (AZURE / spec["environment"]["conda_file"]).resolve() == azure.CONDA_FILE
    assert spec["environment"]["image"].startswith("mcr.microsoft.com/azureml/")


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_environment_holds_what_the_served_code_imports():
    conda = yaml.safe_load(azure.CONDA_FILE.read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    packages = {re.split(r"[<>=!~ ]", p)[0].lower().replace("-", "_") for p in pip}
    served = ["score.py", "model_code.py"]  # the entry script and the model's own code: nothing else runs
    needed = set().union(*(_top_level_imports(SOLUTION / f) for f in served))
    needed -= set(sys.stdlib_module_names) | {"solution", "__future__"}
    aliases = {"yaml": "pyyaml"}
    missing = {n for n in needed if aliases.get(n, n) not in packages}
    assert not missing, f"environment.yml lacks {missing}"
    assert not packages & {"statsmodels", "pmdarima", "scipy"}, "the served code needs no training packages"
    assert "python=3.11" in conda["dependencies"]


# --- azureml-core stand-ins, shaped after the documented SDK v1 signatures ------------------------


class _Calls(list):
    pass


def _fake_sdk(state: str = "Healthy") -> tuple[dict[str, types.ModuleType], _Calls]:
    calls = _Calls()

    class Workspace:
        name = "wth-ws"

        @classmethod
        def from_config(cls, path=None, auth=None, _logger=None, _file_name=None):
            calls.append(("Workspace.from_config", {"path": path}))
            return cls()

    class Model:
        def __init__(self, workspace, name=None, id=None, tags=None, properties=None, version=None, run_id=None,
                     model_framework=None, expand=True, sub_model_list=None):
            calls.append(("Model", {"name": name, "version": version}))

        @staticmethod
        def deploy(workspace, name, models, inference_config=None, deployment_config=None, deployment_target=None,
                   overwrite=False, show_output=False):
            calls.append(("Model.deploy", {"name": name, "models": models, "inference_config": inference_config,
                                           "deployment_config": deployment_config, "overwrite": overwrite}))
            return Webservice()

    class Environment:
        @staticmethod
        def from_conda_specification(name, file_path):
            calls.append(("Environment.from_conda_specification", {"name": name, "file_path": file_path}))
            return Environment()

    class InferenceConfig:
        def __init__(self, entry_script=None, runtime=None, conda_file=None, extra_docker_file_steps=None,
                     source_directory=None, enable_gpu=None, description=None, base_image=None,
                     base_image_registry=None, cuda_version=None, environment=None):
            self.entry_script, self.source_directory, self.environment = entry_script, source_directory, environment

    class DeployConfig:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    class AciWebservice:
        @staticmethod
        def deploy_configuration(cpu_cores=None, memory_gb=None, tags=None, properties=None, description=None,
                                 location=None, auth_enabled=None, ssl_enabled=None, enable_app_insights=None,
                                 ssl_cert_pem_file=None, ssl_key_pem_file=None, ssl_cname=None, dns_name_label=None,
                                 primary_key=None, secondary_key=None, collect_model_data=None, cmk_vault_base_url=None,
                                 cmk_key_name=None, cmk_key_version=None, vnet_name=None, subnet_name=None):
            return DeployConfig(cpu_cores=cpu_cores, memory_gb=memory_gb, tags=tags, auth_enabled=auth_enabled)

    class Webservice:
        scoring_uri = "http://20.0.0.1:80/score"

        def __init__(self):
            self.state = "Transitioning"

        def wait_for_deployment(self, show_output=False, timeout_sec=None):
            calls.append(("wait_for_deployment", {}))
            self.state = state

        def get_logs(self, num_lines=5000, init=False):
            return "Traceback ... init() failed"

        def get_keys(self):
            return ("primary-key", "secondary-key")

    core = types.ModuleType("azureml.core")
    core.Workspace, core.Model, core.Environment = Workspace, Model, Environment
    model_module = types.ModuleType("azureml.core.model")
    model_module.InferenceConfig = InferenceConfig
    webservice = types.ModuleType("azureml.core.webservice")
    webservice.AciWebservice = AciWebservice
    root = types.ModuleType("azureml")
    root.core = core
    return {"azureml": root, "azureml.core": core, "azureml.core.model": model_module,
            "azureml.core.webservice": webservice}, calls


def test_azure_deploy_calls_the_sdk_as_documented(monkeypatch):
    modules, calls = _fake_sdk()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    result = azure.deploy("3", config="config.json", progress=lambda line: None)
    assert result.scoring_uri == "http://20.0.0.1:80/score" and result.key == "primary-key"
    assert ("Workspace.from_config", {"path": "config.json"}) in calls
    assert ("Model", {"name": "transactions-forecast", "version": 3}) in calls
    deployed = dict(calls)["Model.deploy"]
    assert deployed["overwrite"] is True and deployed["name"] == "transactions-forecast"
    inference = deployed["inference_config"]
    assert (Path(inference.source_directory) / inference.entry_script) == SOLUTION / "score.py"
    assert deployed["deployment_config"].auth_enabled is True
    assert deployed["deployment_config"].tags == {"model_version": "3"}
    assert [name for name, _ in calls][-1] == "wait_for_deployment"


def test_azure_deploy_fails_with_the_logs_when_unhealthy(monkeypatch):
    modules, _ = _fake_sdk(state="Unhealthy")
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    with pytest.raises(StepFailed, match="Unhealthy.*init\\(\\) failed"):
        azure.deploy("3", progress=lambda line: None)


def test_without_the_sdk_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "azureml", None)  # import azureml -> ImportError, as when not installed
    with pytest.raises(UsageError, match=r"pip install -e '\.\[azure\]'"):
        azure.deploy("1")
    assert azure.main(["--version", "1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_offline_path_never_imports_azureml():
    import subprocess

    code = ("import sys, solution.endpoint, solution.smoke, solution.report, solution.azure.deploy; "
            "print(any(m == 'azureml' or m.startswith('azureml.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
