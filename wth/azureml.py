"""An Azure ML workspace: its identity and its MLflow tracking URI, as the reference solution
(`--workspace azureml`) and the grader (a teams file's `workspace: {azureml: ...}`) both reach it.

An Azure ML workspace speaks the MLflow API: all either side asks of the Azure ML SDK v2 is the
workspace's tracking URI (`MLClient.workspaces.get(name).mlflow_tracking_uri`). The SDK
(`azure-ai-ml`, `azure-identity`: the `azure` extra) is imported only when a client is made.
"""

from __future__ import annotations

from dataclasses import dataclass


class AzureMLError(Exception):
    """The workspace cannot be read; the reference solution and the grader each word it for their reader."""


class SdkMissing(AzureMLError):
    """The Azure ML SDK v2 is not installed."""


@dataclass(frozen=True)
class Workspace:
    subscription_id: str
    resource_group: str
    workspace_name: str

    def __str__(self) -> str:
        return f"Azure ML workspace {self.workspace_name} (resource group {self.resource_group})"


def client(workspace: Workspace, tenant_id: str | None = None, client_id: str | None = None,
           client_secret: str | None = None):
    """An `azure.ai.ml.MLClient` on `workspace`, signed in as the service principal when a secret is given,
    else with `DefaultAzureCredential` (the Azure CLI's session, a managed identity, `AZURE_*` variables)."""
    try:
        from azure.ai.ml import MLClient
        from azure.identity import ClientSecretCredential, DefaultAzureCredential
    except ImportError as err:
        raise SdkMissing("the Azure ML SDK v2 (azure-ai-ml, azure-identity) is not installed") from err
    credential = (ClientSecretCredential(tenant_id=tenant_id, client_id=client_id, client_secret=client_secret)
                  if client_secret else DefaultAzureCredential())
    return MLClient(credential, subscription_id=workspace.subscription_id,
                    resource_group_name=workspace.resource_group, workspace_name=workspace.workspace_name)


def tracking_uri(workspace: Workspace, ml_client=None) -> str:
    """The workspace's MLflow tracking URI (`azureml://...`), as `MLClient.workspaces.get` reports it."""
    ml_client = ml_client or client(workspace)
    try:
        uri = ml_client.workspaces.get(workspace.workspace_name).mlflow_tracking_uri
    except Exception as err:  # azure-core raises its own hierarchy (sign-in, not found, network)
        reason = (str(err).strip().splitlines() or [""])[0][:200]
        raise AzureMLError(f"cannot open {workspace}: {type(err).__name__}: {reason}".rstrip(": ")) from err
    if not uri:
        raise AzureMLError(f"{workspace} reports no MLflow tracking URI")
    return uri
