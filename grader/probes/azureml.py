"""Azure ML workspaces through azureml-core (SDK v1, the `[azure]` extra; imported only when a team's
workspace is an Azure ML one).

An Azure ML workspace speaks the MLflow API, so the grader only asks azureml-core for the workspace's
MLflow tracking URI and then grades it exactly like any other MLflow workspace (the `azureml-mlflow`
plugin must be installed for MLflow to talk to it). Authentication: a service principal whose secret
comes from the env var named by `client_secret_env`, else azureml-core's default (interactive/CLI).

Tested only against the documented SDK v1 shapes (`Workspace.get(name, auth, subscription_id,
resource_group)`, `Workspace.get_mlflow_tracking_uri()`, `ServicePrincipalAuthentication(tenant_id,
service_principal_id, service_principal_password)`), not against a live Azure subscription.
"""

from __future__ import annotations

import os

from ..config import AzureML
from ..errors import NotGradable


def tracking_uri(ref: AzureML) -> str:
    try:
        from azureml.core import Workspace
        from azureml.core.authentication import ServicePrincipalAuthentication
    except ImportError:
        raise NotGradable("this team's workspace is an Azure ML workspace: install the grader with the "
                          "azure extra (pip install 'wth-mlops[azure]')") from None
    auth = None
    if ref.client_secret_env:
        secret = os.environ.get(ref.client_secret_env)
        if not secret:
            raise NotGradable(f"the service principal secret is not set: export {ref.client_secret_env}")
        if not (ref.tenant_id and ref.client_id):
            raise NotGradable("workspace.azureml needs tenant_id and client_id with client_secret_env")
        auth = ServicePrincipalAuthentication(tenant_id=ref.tenant_id, service_principal_id=ref.client_id,
                                              service_principal_password=secret)
    try:
        workspace = Workspace.get(name=ref.workspace_name, auth=auth, subscription_id=ref.subscription_id,
                                  resource_group=ref.resource_group)
        return workspace.get_mlflow_tracking_uri()
    except Exception as err:  # azureml-core raises its own hierarchy; any failure means not gradable
        raise NotGradable(f"cannot open Azure ML workspace {ref.workspace_name}: {type(err).__name__}") from None
