"""A stand-in for the `MLClient` operations the deployer uses, answering with the SDK's own types.

Azure ML cannot be reached from here, so this plays the service: `online_endpoints` and
`online_deployments` with the method names and keywords of azure-ai-ml's `OnlineEndpointOperations`
and `OnlineDeploymentOperations`, returning real `ManagedOnlineEndpoint`, `ManagedOnlineDeployment`
and `EndpointAuthKeys` objects, real `azure.core.polling.LROPoller`s, and raising azure-core's own
`ResourceNotFoundError`/`HttpResponseError`. It keeps the endpoint's traffic and deployments as the
service would, records every call, and fails where a test asks it to. What it cannot show: how the
real service provisions, builds the image, routes traffic or times out.
"""

from __future__ import annotations

from azure.ai.ml.entities import (
    EndpointAuthKeys,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Workspace,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.polling import LROPoller, PollingMethod

KEY = "primary-key-of-the-endpoint"
REGION = "westeurope"


class _Operation(PollingMethod):
    """A long-running operation that has finished: with a value, or with the service's error."""

    def __init__(self, value=None, error: Exception | None = None):
        self._value, self._error, self._done = value, error, False

    def initialize(self, client, initial_response, deserialization_callback):
        pass

    def run(self):
        self._done = True
        if self._error is not None:
            raise self._error

    def status(self):
        return "Failed" if self._error else "Succeeded"

    def finished(self):
        return self._done

    def resource(self):
        return self._value


def poller(value=None, error: Exception | None = None) -> LROPoller:
    return LROPoller(None, None, lambda response: response, _Operation(value, error))


class Service:
    """The workspace's endpoints, as the service holds them; `fail` names the operations that fail."""

    def __init__(self, fail: set[str] | None = None):
        self.endpoints: dict[str, dict] = {}  # name -> {"auth_mode", "traffic"}
        self.deployments: dict[tuple[str, str], ManagedOnlineDeployment] = {}
        self.calls: list[tuple] = []
        self.fail = set(fail or ())
        self.online_endpoints = _Endpoints(self)
        self.online_deployments = _Deployments(self)
        self.workspaces = _Workspaces(self)

    def traffic(self, endpoint: str) -> dict[str, int]:
        return dict(self.endpoints[endpoint]["traffic"])

    def serving(self, endpoint: str) -> list[str]:
        return sorted(name for (ep, name) in self.deployments if ep == endpoint)

    def entity(self, name: str) -> ManagedOnlineEndpoint:
        held = self.endpoints[name]
        return ManagedOnlineEndpoint(name=name, auth_mode=held["auth_mode"], traffic=dict(held["traffic"]),
                                     scoring_uri=f"https://{name}.{REGION}.inference.ml.azure.com/score",
                                     provisioning_state="Succeeded")


class _Endpoints:
    def __init__(self, service: Service):
        self.service = service

    def get(self, name: str, *, local: bool = False) -> ManagedOnlineEndpoint:
        self.service.calls.append(("endpoints.get", name))
        if name not in self.service.endpoints:
            raise ResourceNotFoundError(f"Endpoint {name} not found")
        return self.service.entity(name)

    def begin_create_or_update(self, endpoint: ManagedOnlineEndpoint, *, local: bool = False) -> LROPoller:
        assert isinstance(endpoint, ManagedOnlineEndpoint)
        service, name = self.service, endpoint.name
        traffic = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
        self.service.calls.append(("endpoints.begin_create_or_update", name, traffic))
        if name in service.endpoints and "traffic" in service.fail:
            return poller(error=HttpResponseError(message="(InternalServerError) traffic update failed"))
        unknown = set(traffic) - set(service.serving(name))
        if unknown or (traffic and sum(traffic.values()) not in (0, 100)):
            return poller(error=HttpResponseError(message=f"(BadRequest) invalid traffic {traffic}"))
        service.endpoints[name] = {"auth_mode": endpoint.auth_mode, "traffic": dict(traffic)}
        return poller(service.entity(name))

    def get_keys(self, name: str) -> EndpointAuthKeys:
        self.service.calls.append(("endpoints.get_keys", name))
        return EndpointAuthKeys(primary_key=KEY, secondary_key="secondary-key")


class _Deployments:
    def __init__(self, service: Service):
        self.service = service

    def begin_create_or_update(self, deployment: ManagedOnlineDeployment, *, local: bool = False,
                               vscode_debug: bool = False, skip_script_validation: bool = False,
                               local_enable_gpu: bool = False, **kwargs) -> LROPoller:
        assert isinstance(deployment, ManagedOnlineDeployment)
        service, key = self.service, (deployment.endpoint_name, deployment.name)
        service.calls.append(("deployments.begin_create_or_update", deployment.name, str(deployment.model)))
        if "provision" in service.fail:
            service.deployments[key] = deployment  # a failed deployment exists, in state Failed
            return poller(error=HttpResponseError(
                message="(ResourceNotReady) User container has crashed or terminated"))
        service.deployments[key] = deployment
        held = service.endpoints[deployment.endpoint_name]["traffic"]
        held.setdefault(deployment.name, 0)  # a new deployment takes no traffic until the endpoint says so
        return poller(ManagedOnlineDeployment(name=deployment.name, endpoint_name=deployment.endpoint_name,
                                              model=deployment.model, instance_type=deployment.instance_type,
                                              instance_count=deployment.instance_count,
                                              provisioning_state="Succeeded"))

    def get_logs(self, name: str, endpoint_name: str, lines: int, *, container_type: str | None = None,
                 local: bool = False) -> str:
        self.service.calls.append(("deployments.get_logs", name))
        return "Starting AzureML Inference Server\nTraceback (most recent call last):\nValueError: init() failed"

    def begin_delete(self, name: str, endpoint_name: str, *, local: bool = False) -> LROPoller:
        service = self.service
        service.calls.append(("deployments.begin_delete", name))
        if service.endpoints[endpoint_name]["traffic"].get(name):
            return poller(error=HttpResponseError(message=f"(BadRequest) {name} still takes traffic"))
        service.deployments.pop((endpoint_name, name), None)
        service.endpoints[endpoint_name]["traffic"].pop(name, None)
        return poller(None)


class _Workspaces:
    def __init__(self, service: Service):
        self.service = service

    def get(self, name: str | None = None, **kwargs) -> Workspace:
        self.service.calls.append(("workspaces.get", name))
        return Workspace(name=name, mlflow_tracking_uri=(
            f"azureml://{REGION}.api.azureml.ms/mlflow/v1.0/subscriptions/sub/resourceGroups/rg/"
            f"providers/Microsoft.MachineLearningServices/workspaces/{name}"))
