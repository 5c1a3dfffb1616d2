"""The `azure` extra works beside the base install (run by `make check-azure` in .venv-azure).

Offline, this proves what can be proved without Azure: one resolver run, `pip check` clean, the SDK v2
(azure-ai-ml, azure-identity), azureml-core and MLflow's Azure ML plugin import, and MLflow resolves its
tracking and registry stores for an `azureml://` tracking URI to the plugin's classes. Talking to a
workspace needs Azure and is not exercised here (the deployer's stand-in tests are in test_azure_deploy.py).
"""

import subprocess
import sys

import pytest

for _module in ("azure.ai.ml", "azure.identity", "azureml.core", "azureml.mlflow"):
    pytest.importorskip(_module, reason="the `azure` extra is not installed in this venv: run `make check-azure`")

URI = ("azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/"
       "resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws")


def test_pip_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mlflow_resolves_azureml_stores_through_the_plugin():
    import mlflow  # noqa: F401
    from mlflow.tracking._model_registry.utils import _get_store as registry_store
    from mlflow.tracking._tracking_service.utils import _get_store as tracking_store

    assert type(tracking_store(URI)).__module__.startswith("azureml.mlflow")
    assert type(registry_store(URI)).__module__.startswith("azureml.mlflow")


def test_the_solution_takes_an_azure_ml_tracking_uri_as_its_workspace():
    from solution import workspace

    ws = workspace.resolve(URI)
    assert ws.tracking_uri == URI and not ws.is_local


def test_the_azure_ml_registry_store_has_no_alias_support_of_its_own():
    """Why the champion is a version tag: the plugin's registry store inherits MLflow's generic REST
    alias calls and documents none; Azure ML's MLflow support matrix lists version tags, not aliases."""
    from azureml.mlflow._store.model_registry.model_registry import (
        AzureMLflowModelRegistry,
    )
    from mlflow.store.model_registry.rest_store import RestStore

    for method in ("set_registered_model_alias", "get_model_version_by_alias"):
        assert getattr(AzureMLflowModelRegistry, method) is getattr(RestStore, method)
    assert "set_model_version_tag" in dir(AzureMLflowModelRegistry)
