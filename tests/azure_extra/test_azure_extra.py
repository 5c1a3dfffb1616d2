"""The `azure` extra works beside the base install (run by `make check-azure` in .venv-azure).

Offline, this proves what can be proved without Azure: one resolver run, `pip check` clean, the SDK
and MLflow's Azure ML plugin import, and MLflow resolves its tracking and registry stores for an
`azureml://` tracking URI to the plugin's classes. Talking to a workspace needs Azure and is not
exercised here.
"""

import subprocess
import sys

import pytest

azureml_core = pytest.importorskip(
    "azureml.core", reason="the `azure` extra is not installed in this venv: run `make check-azure`")

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
