"""Which Azure ML workspace: subscription, resource group and workspace name, as the Azure tools take them.

Each comes from its flag, else its environment variable, else the workspace's `config.json` (the file
the Azure ML studio offers for download, which `MLClient.from_config` and azureml-core read: `./config.json`
or `./.azureml/config.json` unless `--config` names one). Sign-in is `DefaultAzureCredential`: in an
Azure DevOps `AzureCLI@2` step on a service connection (or a GitHub job after `azure/login` with OIDC)
the Azure CLI's session; on a laptop, `az login`. No client secret is read here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from wth import azureml
from wth.errors import StepFailed, UsageError

# flag, environment variable, config.json key
FIELDS = (
    ("subscription_id", "--subscription", "AZURE_SUBSCRIPTION_ID"),
    ("resource_group", "--resource-group", "AZURE_RESOURCE_GROUP"),
    ("workspace_name", "--workspace-name", "AZURE_ML_WORKSPACE"),
)
CONFIG_FILES = ("config.json", ".azureml/config.json")
INSTALL = "pip install -e '.[azure]'"


def _config(path: str | os.PathLike | None) -> dict:
    if path is not None:
        candidates = [Path(path)]
        if not candidates[0].is_file():
            raise UsageError(f"--config {path}: no such file")
    else:
        candidates = [Path(name) for name in CONFIG_FILES if Path(name).is_file()]
    if not candidates:
        return {}
    try:
        data = json.loads(candidates[0].read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{candidates[0]}: not a workspace config.json ({err})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{candidates[0]}: not a workspace config.json (expected a JSON object)")
    return data


def resolve(subscription: str | None = None, resource_group: str | None = None, workspace_name: str | None = None,
            config: str | os.PathLike | None = None) -> azureml.Workspace:
    """The workspace from flags, else `AZURE_*` variables, else config.json; `UsageError` naming what is missing."""
    given = {"subscription_id": subscription, "resource_group": resource_group, "workspace_name": workspace_name}
    values, missing, from_file = {}, [], None
    for key, flag, env in FIELDS:
        value = (given[key] or os.environ.get(env, "")).strip()
        if not value:
            from_file = _config(config) if from_file is None else from_file
            value = str(from_file.get(key) or "").strip()
        if value:
            values[key] = value
        else:
            missing.append(f"{flag} (or ${env})")
    if missing:
        raise UsageError(f"which Azure ML workspace? give {', '.join(missing)}, or a config.json")
    return azureml.Workspace(**values)


def client(where: azureml.Workspace):
    """An `azure.ai.ml.MLClient` on the workspace, signed in with `DefaultAzureCredential`."""
    try:
        return azureml.client(where)
    except azureml.SdkMissing as err:
        raise UsageError(f"{err}: {INSTALL}") from err


def tracking_uri(where: azureml.Workspace, ml_client=None) -> str:
    """The workspace's MLflow tracking URI (`azureml://...`)."""
    try:
        return azureml.tracking_uri(where, ml_client or client(where))
    except azureml.AzureMLError as err:
        raise StepFailed(str(err)) from err
