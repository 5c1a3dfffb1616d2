"""The Azure ML release with the real SDK v2 (run by `make check-azure` in .venv-azure).

Real here: azure-ai-ml's loaders and schema validation of the YAML (with networking refused), its
entity types, azure-core's `LROPoller` and exceptions, its upload filter for the deployment's code,
MLflow's registry (a local workspace trained by the build pipeline) for the model's requirements and
the recorded release run. A stand-in (azureml_standin.py) plays the Azure ML service: no Azure call
is made, so provisioning, the image build and the service's traffic routing are not exercised.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("azure.ai.ml", reason="the `azure` extra is not installed in this venv: run `make check-azure`")

from azure.ai.ml import load_online_deployment, load_online_endpoint  # noqa: E402
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint  # noqa: E402
from azure.ai.ml.exceptions import ValidationException  # noqa: E402
from azureml_standin import KEY, Service  # noqa: E402
from marshmallow import ValidationError  # noqa: E402  (azure-ai-ml's schema library)

from solution import azure_workspace as targets  # noqa: E402
from solution.azure import deploy as azure  # noqa: E402
from wth import azureml  # noqa: E402
from wth.errors import StepFailed, UsageError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = ["mlflow==3.17.2", "numpy==2.3.5", "pandas==2.3.3"]


@pytest.fixture
def offline(monkeypatch):
    """No network at all: any connection attempt or name lookup fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network use: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class Smoke:
    """Stands in for wth.smoke.check (tested on its own against HTTP): records what it was aimed at."""

    def __init__(self, failing: set[str] = frozenset()):
        self.calls, self.failing = [], set(failing)

    def __call__(self, uri, expected_version=None, expected_train_end=None, key=None, deployment=None,
                 require_interval=False, health=True):
        self.calls.append({"uri": uri, "version": expected_version, "key": key, "deployment": deployment,
                           "health": health})
        return ["POST /score {\"steps\": 1}: status 500, expected 200"] if deployment in self.failing else []


def release(service, version="1", smoke=None, **options):
    return azure.deploy(service, version, REQUIREMENTS, train_end="2013-12-31", smoke=smoke or Smoke(), **options)


def ops(service) -> list[str]:
    return [call[0] for call in service.calls if call[0] != "endpoints.get"]


# --- the definitions, through Microsoft's loaders -------------------------------------------------


def test_every_azure_ml_yaml_loads_with_the_sdk_loaders_offline(offline):
    endpoint = load_online_endpoint(azure.ENDPOINT_FILE)
    assert isinstance(endpoint, ManagedOnlineEndpoint) and endpoint.auth_mode == "key"
    deployment = load_online_deployment(azure.DEPLOYMENT_FILE)
    assert isinstance(deployment, ManagedOnlineDeployment)
    assert deployment.endpoint_name == endpoint.name and deployment.instance_count >= 1
    assert deployment.instance_type == "Standard_DS3_v2"
    code = (azure.DEPLOYMENT_FILE.parent / deployment.code_configuration.code).resolve()
    assert code == REPO and (code / deployment.code_configuration.scoring_script).is_file()
    assert deployment.environment.image.startswith("mcr.microsoft.com/azureml/")
    assert "python=3.11" in deployment.environment.conda_file["dependencies"]


@pytest.mark.parametrize("loader, name, field, broken", [
    (load_online_deployment, "deployment.yml", "instance_count: 1", "instance_count: many"),
    (load_online_deployment, "deployment.yml", "request_timeout_ms: 5000", "request_timeout_ms: soon"),
    (load_online_endpoint, "endpoint.yml", "auth_mode: key", "auth_mode: password"),
], ids=["instance_count", "request_timeout", "auth_mode"])
def test_a_broken_field_is_refused_by_the_sdk_schema(offline, tmp_path, loader, name, field, broken):
    text = (azure.HERE / name).read_text()
    assert field in text
    copy = tmp_path / name
    copy.write_text(text.replace(field, broken))
    if name == "deployment.yml":  # the relative paths of the copy must still resolve
        copy.write_text(copy.read_text().replace("code: ../..", f"code: {REPO}")
                        .replace("conda_file: environment.yml", f"conda_file: {azure.CONDA_FILE}"))
    with pytest.raises((ValidationException, ValidationError)) as refused:  # the SDK raises either, by entity
        loader(copy)
    assert broken.split(":")[0] in str(refused.value)


def test_the_sanity_copy_of_the_deployment_loads(offline, tmp_path):
    copy = tmp_path / "deployment.yml"
    copy.write_text(azure.DEPLOYMENT_FILE.read_text().replace("code: ../..", f"code: {REPO}")
                    .replace("conda_file: environment.yml", f"conda_file: {azure.CONDA_FILE}"))
    assert load_online_deployment(copy).instance_type == "Standard_DS3_v2"


def test_the_deployment_sent_is_the_yaml_with_the_version_and_the_models_requirements(offline):
    deployment = azure.load_deployment("green", "transactions-forecast", "7", REQUIREMENTS)
    assert isinstance(deployment, ManagedOnlineDeployment)
    assert deployment.name == "green" and str(deployment.model).endswith("transactions-forecast:7")
    pip = next(d["pip"] for d in deployment.environment.conda_file["dependencies"] if isinstance(d, dict))
    assert pip[:3] == REQUIREMENTS and any(p.startswith("azureml-inference-server-http") for p in pip)


def test_the_code_azure_ml_uploads_is_the_entry_script_and_the_contract():
    """azure-ai-ml's own upload filter (.amlignore) over the deployment's code folder."""
    from azure.ai.ml._utils._asset_utils import (
        get_ignore_file,
        get_upload_files_from_folder,
    )

    deployment = load_online_deployment(azure.DEPLOYMENT_FILE)
    code = (azure.DEPLOYMENT_FILE.parent / deployment.code_configuration.code).resolve()
    uploaded = {relative for _, relative in get_upload_files_from_folder(code, ignore_file=get_ignore_file(code))}
    assert uploaded == {"solution/score.py", "wth/__init__.py", "wth/contract.py", "wth/settings.py"}
    imports = (code / "solution" / "score.py").read_text()
    assert "from wth.contract import" in imports and "from solution" not in imports


# --- the order of operations ----------------------------------------------------------------------


def test_a_first_release_creates_the_endpoint_and_blue_then_gives_it_the_traffic():
    service, smoke = Service(), Smoke()
    result = release(service, "1", smoke)
    assert ops(service) == ["endpoints.begin_create_or_update", "deployments.begin_create_or_update",
                            "endpoints.get_keys", "endpoints.begin_create_or_update"]
    assert service.calls[1] == ("endpoints.begin_create_or_update", "transactions-forecast", {})
    assert result.deployment == "blue" and service.traffic("transactions-forecast") == {"blue": 100}
    assert smoke.calls == [{"uri": result.scoring_uri, "version": "1", "key": KEY, "deployment": "blue",
                            "health": False}]
    assert result.scoring_uri == "https://transactions-forecast.westeurope.inference.ml.azure.com/score"


def test_the_next_release_is_green_with_no_traffic_until_it_passed_then_blue_is_deleted():
    service = Service()
    release(service, "1")
    service.calls.clear()
    seen = []

    class Watching(Smoke):
        def __call__(self, uri, **kwargs):
            seen.append(service.traffic("transactions-forecast"))  # what serves while green is tested
            return super().__call__(uri, **kwargs)

    result = release(service, "2", Watching())
    assert seen == [{"blue": 100, "green": 0}]
    assert ops(service) == ["deployments.begin_create_or_update", "endpoints.get_keys",
                            "endpoints.begin_create_or_update", "deployments.begin_delete"]
    assert service.calls[1] == ("deployments.begin_create_or_update", "green", "transactions-forecast:2")
    assert ("endpoints.begin_create_or_update", "transactions-forecast", {"blue": 0, "green": 100}) in service.calls
    assert result.deployment == "green" and result.retired == "blue"
    assert service.serving("transactions-forecast") == ["green"]
    assert service.traffic("transactions-forecast") == {"green": 100}


def test_a_canary_stops_before_the_full_switch_and_keeps_the_old_deployment():
    service = Service()
    release(service, "1")
    result = release(service, "2", traffic=10)
    assert result.canary and result.retired is None
    assert service.traffic("transactions-forecast") == {"blue": 90, "green": 10}
    assert service.serving("transactions-forecast") == ["blue", "green"]
    with pytest.raises(UsageError, match="green takes 10% of the traffic"):
        release(service, "3", deployment="green")


# --- failures: the old deployment keeps its traffic -----------------------------------------------


@pytest.fixture
def serving_blue():
    service = Service()
    release(service, "1")
    service.calls.clear()
    return service


def test_a_deployment_that_fails_to_provision_leaves_blue_serving(serving_blue):
    service = serving_blue
    service.fail.add("provision")
    with pytest.raises(StepFailed) as failed:
        release(service, "2")
    message = str(failed.value)
    assert "deployment green failed to provision" in message and "User container has crashed" in message
    assert "init() failed" in message and "blue 100%" in message and "\n" not in message
    assert service.traffic("transactions-forecast") == {"blue": 100}
    assert service.serving("transactions-forecast") == ["blue"]  # the failed green was deleted
    assert "endpoints.get_keys" not in ops(service)  # never smoke-tested, never given traffic


def test_a_smoke_test_that_fails_on_the_new_deployment_leaves_blue_serving(serving_blue):
    service = serving_blue
    with pytest.raises(StepFailed, match=r"version 2 on deployment green failed the smoke test .*blue 100%"):
        release(service, "2", Smoke(failing={"green"}))
    assert service.traffic("transactions-forecast") == {"blue": 100}
    assert service.serving("transactions-forecast") == ["blue"]
    assert ops(service)[-1] == "deployments.begin_delete" and "endpoints.begin_create_or_update" not in ops(service)


def test_a_traffic_update_that_fails_leaves_blue_serving(serving_blue):
    service = serving_blue
    service.fail.add("traffic")
    with pytest.raises(StepFailed, match=r"moving the traffic to green 100%: HttpResponseError.*"
                                         r"the traffic stays as it was \(blue 100%\)"):
        release(service, "2")
    assert service.traffic("transactions-forecast") == {"blue": 100}
    assert service.serving("transactions-forecast") == ["blue"]


def test_a_traffic_update_that_half_applied_is_put_back(serving_blue, monkeypatch):
    """The service refuses the update but has already moved part of the traffic: the deployer reads it
    back and restores the old share before it deletes the new deployment."""
    service = serving_blue
    endpoints = service.online_endpoints
    real = endpoints.begin_create_or_update

    def half_applied(endpoint, *, local=False):
        if endpoint.traffic and endpoint.traffic.get("green"):
            service.endpoints[endpoint.name]["traffic"] = {"blue": 50, "green": 50}
            from azure.core.exceptions import HttpResponseError
            from azureml_standin import poller

            return poller(error=HttpResponseError(message="(Conflict) operation interrupted"))
        return real(endpoint, local=local)

    monkeypatch.setattr(endpoints, "begin_create_or_update", half_applied)
    with pytest.raises(StepFailed, match=r"the traffic is back to blue 100%"):
        release(service, "2")
    assert service.traffic("transactions-forecast") == {"blue": 100}
    assert service.serving("transactions-forecast") == ["blue"]


def test_a_bad_traffic_percentage_is_bad_usage_before_any_call():
    service = Service()
    with pytest.raises(UsageError, match="--traffic 0"):
        release(service, "1", traffic=0)
    with pytest.raises(UsageError, match="a canary needs a deployment already serving"):
        release(service, "1", traffic=50)
    assert ops(service) == []


# --- the workspace and the recorded release -------------------------------------------------------


def test_the_tracking_uri_comes_from_ml_client_workspaces_get():
    service = Service()
    where = azureml.Workspace("sub", "rg", "wth-ws")
    uri = targets.tracking_uri(where, ml_client=service)
    assert uri.startswith("azureml://") and uri.endswith("/workspaces/wth-ws")
    assert service.calls == [("workspaces.get", "wth-ws")]


def test_the_ml_client_is_the_sdks_with_default_azure_credential():
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    client = targets.client(azureml.Workspace("00000000-0000-0000-0000-000000000000", "rg", "wth-ws"))
    assert isinstance(client, MLClient) and isinstance(client._credential, DefaultAzureCredential)
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        "00000000-0000-0000-0000-000000000000", "rg", "wth-ws")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from solution import pipelines, workspace

    ws = workspace.resolve(tmp_path_factory.mktemp("azure-ws"))
    pipelines.build(ws, source=str(REPO / "resources" / "data" / "TransactionHistory.csv.gz"), train_end="2013-12-31")
    return ws


def test_the_environment_reads_the_registered_versions_own_requirements(trained):
    requirements = azure.model_requirements(trained, "1")
    assert any(line.startswith("mlflow") for line in requirements)
    pip = next(d["pip"] for d in azure.environment(requirements)["dependencies"] if isinstance(d, dict))
    assert set(r for r in requirements if r.strip() and not r.startswith("#")) <= set(pip)


def test_the_release_pipeline_records_deploy_and_smoke_test_like_the_local_one(trained):
    service, smoke = Service(), Smoke()
    result = azure.release_pipeline(trained, azureml.Workspace("sub", "rg", "ws"), ml_client=service, smoke=smoke)
    client = trained.client
    experiment = client.get_experiment_by_name(trained.experiment).experiment_id
    runs = client.search_runs([experiment], filter_string="tags.`wth.pipeline` = 'release'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.tags["target"] == "azureml" and runs[0].data.tags["scoring_uri"] == result.scoring_uri
    steps = client.search_runs([experiment], filter_string=f"tags.`wth.pipeline_run_id` = '{runs[0].info.run_id}'")
    assert sorted(r.data.tags["wth.step"] for r in steps) == ["deploy", "smoke-test"]
    assert [c["deployment"] for c in smoke.calls] == ["blue", None]  # the new deployment, then the endpoint
    assert all(c["key"] == KEY and c["health"] is False for c in smoke.calls)


def test_a_failed_azure_release_is_recorded_failed(trained):
    service = Service(fail={"provision"})
    with pytest.raises(StepFailed, match="failed to provision"):
        azure.release_pipeline(trained, azureml.Workspace("sub", "rg", "ws"), ml_client=service, smoke=Smoke())
    client = trained.client
    experiment = client.get_experiment_by_name(trained.experiment).experiment_id
    latest = client.search_runs([experiment], filter_string="tags.`wth.pipeline` = 'release'",
                                order_by=["attributes.start_time DESC"])[0]
    assert latest.info.status == "FAILED" and "failed to provision" in latest.data.tags["wth.failure"]
