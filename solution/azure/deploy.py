"""Deploy the champion to Azure ML with azureml-core (SDK v1, the `azure` extra), serving the same
`solution/score.py` the local endpoint serves.

`azureml.core` is imported only inside these functions: the offline path never needs it. This code
has not run against a live Azure ML workspace from this repository (no cloud access where it was
written); its calls follow the SDK's documented signatures and tests/serve/test_serve_azure.py checks
them against those shapes. Microsoft ended SDK v1 support on 2026-06-30: for new work prefer the
managed online endpoint YAML next to this file (`az ml online-endpoint/online-deployment`).

    python -m solution.azure.deploy --version 3 [--config config.json] [--service transactions-forecast]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wth.config import MODEL_NAME
from wth.errors import StepFailed, UsageError

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent  # the solution package: score.py and the model code it loads
ENTRY_SCRIPT = "score.py"
CONDA_FILE = HERE / "environment.yml"
SERVICE = "transactions-forecast"


@dataclass
class AzureService:
    name: str
    scoring_uri: str
    model_version: str
    state: str
    key: str | None


def _sdk():
    try:
        from azureml.core import Environment, Model, Workspace
        from azureml.core.model import InferenceConfig
        from azureml.core.webservice import AciWebservice
    except ImportError:
        raise UsageError("azureml-core is not installed: pip install -e '.[azure]' (Python 3.11)") from None
    return Workspace, Model, Environment, InferenceConfig, AciWebservice


def deploy(version: str | int, config: str | None = None, service: str = SERVICE, model_name: str = MODEL_NAME,
           cpu_cores: float = 1, memory_gb: float = 2, progress: Callable[[str], None] = print) -> AzureService:
    """Deploy registered `model_name` version `version` as an ACI web service named `service`."""
    Workspace, Model, Environment, InferenceConfig, AciWebservice = _sdk()
    ws = Workspace.from_config(path=config)
    model = Model(ws, name=model_name, version=int(version))
    environment = Environment.from_conda_specification(name="wth-serve", file_path=str(CONDA_FILE))
    inference = InferenceConfig(entry_script=ENTRY_SCRIPT, source_directory=str(SOURCE_DIR), environment=environment)
    deployment = AciWebservice.deploy_configuration(cpu_cores=cpu_cores, memory_gb=memory_gb, auth_enabled=True,
                                                    tags={"model_version": str(version)},
                                                    description="What The Hack - MLOps transactions forecast")
    progress(f"deploying {model_name} version {version} to ACI service {service} in workspace {ws.name}")
    web = Model.deploy(workspace=ws, name=service, models=[model], inference_config=inference,
                       deployment_config=deployment, overwrite=True)
    web.wait_for_deployment(show_output=False)
    if web.state != "Healthy":
        logs = (web.get_logs() or "")[-800:]
        raise StepFailed(f"ACI service {service} is {web.state} after deployment; last log lines: {logs}")
    key = web.get_keys()[0] if deployment.auth_enabled else None
    progress(f"{service} is healthy at {web.scoring_uri}")
    return AzureService(name=service, scoring_uri=web.scoring_uri, model_version=str(version), state=web.state, key=key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deploy a registered version to Azure ML (azureml-core, SDK v1)")
    parser.add_argument("--version", required=True, help="registered model version to deploy")
    parser.add_argument("--config", help="Azure ML workspace config.json (default: found by Workspace.from_config)")
    parser.add_argument("--service", default=SERVICE)
    args = parser.parse_args(argv)
    try:
        result = deploy(args.version, config=args.config, service=args.service)
    except (UsageError, StepFailed) as err:
        print(f"solution.azure.deploy: {err}", file=sys.stderr)
        return err.exit_code
    print(result.scoring_uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
