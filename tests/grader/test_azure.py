"""Azure DevOps and Azure ML probes. Neither is reachable offline, so both are tested against the
response shapes Microsoft documents, said plainly: Azure DevOps through a local HTTP server replaying
Pipelines - List and Runs - List (api-version 7.1); Azure ML through a stand-in `azureml.core`
module with the SDK v1 signatures (azureml-core is not installed here)."""

from __future__ import annotations

import base64
import json
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from grader_tools import FAKE_SECRET, write_teams

from grader import config, runner
from grader.config import AzureML
from grader.errors import NotGradable
from grader.probes import azureml

PIPELINES = {"count": 2, "value": [
    {"id": 11, "name": "team-build", "folder": "\\", "revision": 3, "url": "https://dev.azure.com/contoso/_apis/pipelines/11"},
    {"id": 12, "name": "team-release", "folder": "\\", "revision": 1, "url": "https://dev.azure.com/contoso/_apis/pipelines/12"},
]}
RUNS = {
    11: {"count": 2, "value": [
        {"id": 101, "name": "20261126.2", "state": "completed", "result": "succeeded", "createdDate": "2026-11-26T08:00:00Z",
         "finishedDate": "2026-11-26T08:05:00Z", "pipeline": {"id": 11, "name": "team-build", "folder": "\\", "revision": 3},
         "url": "https://dev.azure.com/contoso/_apis/pipelines/11/runs/101"},
        {"id": 100, "name": "20261126.1", "state": "completed", "result": "failed", "createdDate": "2026-11-26T07:00:00Z",
         "finishedDate": "2026-11-26T07:04:00Z", "pipeline": {"id": 11, "name": "team-build", "folder": "\\", "revision": 3},
         "url": "https://dev.azure.com/contoso/_apis/pipelines/11/runs/100"}]},
    12: {"count": 1, "value": [
        {"id": 200, "name": "20261126.1", "state": "inProgress", "result": None, "createdDate": "2026-11-26T08:10:00Z",
         "pipeline": {"id": 12, "name": "team-release", "folder": "\\", "revision": 1},
         "url": "https://dev.azure.com/contoso/_apis/pipelines/12/runs/200"}]},
}


@pytest.fixture(scope="module")
def devops_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            expected = "Basic " + base64.b64encode(f":{FAKE_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(203)  # Azure DevOps answers a bad PAT with a sign-in page
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            assert query == "api-version=7.1"
            body = None
            if path == "/contoso/mlops/_apis/pipelines":
                body = PIPELINES
            elif path.startswith("/contoso/mlops/_apis/pipelines/") and path.endswith("/runs"):
                body = RUNS.get(int(path.split("/")[-2]))
            raw = json.dumps(body).encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _grade(tmp_path, empty_ws, base):
    devops = {"organization": "contoso", "project": "mlops", "pat_env": "TEAM_ADO_PAT", "base_url": base}
    path = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(empty_ws.root), "endpoint": None,
                                                  "repo": None, "devops": devops}])
    return runner.grade(config.load(path))[0]


def test_devops_runs_decide_c2_5_and_c3_6(tmp_path, empty_ws, devops_server, monkeypatch):
    base, seen = devops_server
    monkeypatch.setenv("TEAM_ADO_PAT", FAKE_SECRET)
    team = _grade(tmp_path, empty_ws, base)
    build, release = team.result("C2.5"), team.result("C3.6")
    assert build.status == "pass" and "team-build" in build.message and "20261126.2" in build.message
    assert release.status == "fail" and release.evidence["azure_devops_runs"] == ["team-release #200 inProgress/None"]
    assert all(FAKE_SECRET not in r.message + json.dumps(r.evidence) for r in team.results)
    assert any(path.startswith("/contoso/mlops/_apis/pipelines/11/runs") for path, _ in seen)


def test_a_wrong_or_missing_pat_is_not_gradable(tmp_path, empty_ws, devops_server, monkeypatch):
    base, _ = devops_server
    monkeypatch.setenv("TEAM_ADO_PAT", "not-the-pat")
    assert "refused the PAT in TEAM_ADO_PAT" in _grade(tmp_path, empty_ws, base).result("C2.5").message
    monkeypatch.delenv("TEAM_ADO_PAT")
    result = _grade(tmp_path, empty_ws, base).result("C2.5")
    assert result.status == "error" and "export TEAM_ADO_PAT" in result.message


REF = AzureML(subscription_id="sub", resource_group="rg", workspace_name="ws", tenant_id="tenant",
              client_id="app", client_secret_env="SP_SECRET")


@pytest.fixture
def azureml_core(monkeypatch):
    """A stand-in for azureml-core with the SDK v1 signatures the probe uses (documented, not live)."""
    calls = {}

    class ServicePrincipalAuthentication:
        def __init__(self, tenant_id, service_principal_id, service_principal_password):
            calls["auth"] = (tenant_id, service_principal_id, service_principal_password)

    class Workspace:
        @staticmethod
        def get(name, auth=None, subscription_id=None, resource_group=None):
            calls["get"] = (name, subscription_id, resource_group)
            return Workspace()

        def get_mlflow_tracking_uri(self):
            return "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"

    core = types.ModuleType("azureml.core")
    core.Workspace = Workspace
    authentication = types.ModuleType("azureml.core.authentication")
    authentication.ServicePrincipalAuthentication = ServicePrincipalAuthentication
    package = types.ModuleType("azureml")
    package.core = core
    monkeypatch.setitem(sys.modules, "azureml", package)
    monkeypatch.setitem(sys.modules, "azureml.core", core)
    monkeypatch.setitem(sys.modules, "azureml.core.authentication", authentication)
    return calls


def test_azureml_workspace_resolves_to_its_mlflow_tracking_uri(azureml_core, monkeypatch):
    monkeypatch.setenv("SP_SECRET", FAKE_SECRET)
    uri = azureml.tracking_uri(REF)
    assert uri.startswith("azureml://") and uri.endswith("/workspaces/ws")
    assert azureml_core["get"] == ("ws", "sub", "rg") and azureml_core["auth"] == ("tenant", "app", FAKE_SECRET)


def test_azureml_needs_its_secret_and_the_extra(azureml_core, monkeypatch):
    monkeypatch.delenv("SP_SECRET", raising=False)
    with pytest.raises(NotGradable, match="export SP_SECRET"):
        azureml.tracking_uri(REF)
    monkeypatch.setitem(sys.modules, "azureml.core", None)  # as when azureml-core is not installed
    with pytest.raises(NotGradable, match=r"wth-mlops\[azure\]"):
        azureml.tracking_uri(REF)
