"""Azure ML workspaces through the Azure ML SDK v2 (`azure-ai-ml`, the `[azure]` extra; imported only
when a team's workspace is an Azure ML one).

An Azure ML workspace speaks the MLflow API, so the grader only asks the SDK for the workspace's
MLflow tracking URI (`MLClient.workspaces.get(name).mlflow_tracking_uri`) and then grades it exactly
like any other MLflow workspace (the `azureml-mlflow` plugin must be installed for MLflow to talk to
it). Sign-in: `DefaultAzureCredential` (the coach's `az login`, a managed identity, or the
`AZURE_*` variables azure-identity reads); a service principal whose secret is in the env var named
by `client_secret_env`, when the teams file gives one.

Tested against the SDK's own `MLClient` and `Workspace` entity with the `workspaces.get` call
standing in for the service (tests/azure_extra), not against a live Azure subscription.
"""

from __future__ import annotations

import os

from ..errors import NotGradable
from ..teams import AzureML


def _credential(ref: AzureML):
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    if not ref.client_secret_env:
        return DefaultAzureCredential()
    secret = os.environ.get(ref.client_secret_env)
    if not secret:
        raise NotGradable(f"the service principal secret is not set: export {ref.client_secret_env}")
    if not (ref.tenant_id and ref.client_id):
        raise NotGradable("workspace.azureml needs tenant_id and client_id with client_secret_env")
    return ClientSecretCredential(tenant_id=ref.tenant_id, client_id=ref.client_id, client_secret=secret)


def tracking_uri(ref: AzureML, ml_client=None) -> str:
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        raise NotGradable("this team's workspace is an Azure ML workspace: install the grader with the "
                          "azure extra (pip install 'wth-mlops[azure]')") from None
    try:
        if ml_client is None:
            ml_client = MLClient(_credential(ref), subscription_id=ref.subscription_id,
                                 resource_group_name=ref.resource_group, workspace_name=ref.workspace_name)
        uri = ml_client.workspaces.get(ref.workspace_name).mlflow_tracking_uri
    except NotGradable:
        raise
    except Exception as err:  # azure-core raises its own hierarchy; any failure means not gradable
        raise NotGradable(f"cannot open Azure ML workspace {ref.workspace_name}: {type(err).__name__}") from None
    if not uri:
        raise NotGradable(f"Azure ML workspace {ref.workspace_name} reports no MLflow tracking URI")
    return uri
