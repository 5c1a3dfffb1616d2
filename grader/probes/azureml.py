"""Azure ML workspaces: graded like any other MLflow workspace, at the tracking URI `wth.azureml`
reads from the Azure ML SDK v2 (the `[azure]` extra; the `azureml-mlflow` plugin lets MLflow talk to
it). Sign-in: `DefaultAzureCredential` (the coach's `az login`, a managed identity, or the `AZURE_*`
variables azure-identity reads); a service principal whose secret is in the env var named by
`client_secret_env`, when the teams file gives one.

Tested against the SDK's own `MLClient` and `Workspace` entity with the `workspaces.get` call
standing in for the service (tests/azure_extra), not against a live Azure subscription.
"""

from __future__ import annotations

import os

from wth import azureml

from ..not_gradable import NotGradable
from ..teams import AzureML

INSTALL = "install the grader with the azure extra (pip install 'wth-mlops[azure]')"


def _secret(ref: AzureML) -> str | None:
    if not ref.client_secret_env:
        return None
    secret = os.environ.get(ref.client_secret_env)
    if not secret:
        raise NotGradable(f"the service principal secret is not set: export {ref.client_secret_env}")
    if not (ref.tenant_id and ref.client_id):
        raise NotGradable("workspace.azureml needs tenant_id and client_id with client_secret_env")
    return secret


def tracking_uri(ref: AzureML, ml_client=None) -> str:
    workspace = azureml.Workspace(ref.subscription_id, ref.resource_group, ref.workspace_name)
    try:
        if ml_client is None:
            ml_client = azureml.client(workspace, ref.tenant_id, ref.client_id, _secret(ref))
        return azureml.tracking_uri(workspace, ml_client)
    except azureml.SdkMissing as err:
        raise NotGradable(f"this team's workspace is an Azure ML workspace: {INSTALL}") from err
    except azureml.AzureMLError as err:
        raise NotGradable(str(err)) from err
