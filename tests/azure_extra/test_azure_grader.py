"""The grader's Azure ML probe with the real SDK v2 (`make check-azure`): a real `MLClient` whose
`workspaces.get` answers with a real `Workspace` entity in place of the service (no Azure call)."""

import pytest

pytest.importorskip("azure.ai.ml", reason="the `azure` extra is not installed in this venv: run `make check-azure`")

from azure.ai.ml import MLClient  # noqa: E402
from azure.identity import DefaultAzureCredential  # noqa: E402
from azureml_standin import Service  # noqa: E402

from grader.not_gradable import NotGradable  # noqa: E402
from grader.probes import azureml  # noqa: E402
from grader.teams import AzureML  # noqa: E402

REF = AzureML(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg", workspace_name="team-ws")


def test_the_probe_reads_the_tracking_uri_from_the_sdks_workspace_entity(monkeypatch):
    built = []
    real = MLClient.__init__

    def recording(self, credential, *args, **kwargs):
        built.append((type(credential), kwargs))
        real(self, credential, *args, **kwargs)
        self._workspaces = Service().workspaces  # the service's answer, as the SDK's entity

    monkeypatch.setattr(MLClient, "__init__", recording)
    monkeypatch.setattr(MLClient, "workspaces", property(lambda self: self._workspaces))
    uri = azureml.tracking_uri(REF)
    assert uri.startswith("azureml://") and uri.endswith("/workspaces/team-ws")
    assert built[0][0] is DefaultAzureCredential
    assert built[0][1]["resource_group_name"] == "rg" and built[0][1]["workspace_name"] == "team-ws"


def test_a_failing_workspace_lookup_is_not_gradable():
    class Refusing:
        class workspaces:  # noqa: N801 - the attribute name of MLClient
            @staticmethod
            def get(name=None, **kwargs):
                from azure.core.exceptions import ClientAuthenticationError

                raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    with pytest.raises(NotGradable, match=r"cannot open Azure ML workspace team-ws \(resource group rg\): ClientAuthenticationError"):
        azureml.tracking_uri(REF, ml_client=Refusing())
