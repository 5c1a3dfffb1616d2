"""Azure DevOps and Azure ML probes. Neither is reachable offline, so both are tested against the
response shapes Microsoft documents, said plainly: Azure DevOps through a local HTTP server replaying
Pipelines - List and Runs - List (api-version 7.1); Azure ML through stand-in `azure.ai.ml` and
`azure.identity` modules with the SDK v2 signatures (the real SDK: tests/azure_extra)."""

from __future__ import annotations

import base64
import json
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from grader_tools import FAKE_SECRET, grade_one

from grader.not_gradable import NotGradable
from grader.probes import azureml
from grader.teams import AzureML

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
    return grade_one(tmp_path, workspace=str(empty_ws.root), devops=devops)


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
def azure_sdk(monkeypatch):
    """Stand-ins for azure-ai-ml and azure-identity with the SDK v2 signatures the probe uses (the real
    SDK runs in tests/azure_extra/test_azure_grader.py; it is not installed in this venv)."""
    calls = {}

    class ClientSecretCredential:
        def __init__(self, tenant_id, client_id, client_secret, **kwargs):
            calls["credential"] = ("secret", tenant_id, client_id, client_secret)

    class DefaultAzureCredential:
        def __init__(self, **kwargs):
            calls["credential"] = ("default",)

    class Workspaces:
        def get(self, name=None, **kwargs):
            calls["get"] = name
            return types.SimpleNamespace(mlflow_tracking_uri="azureml://westeurope.api.azureml.ms/mlflow/v1.0/"
                                         "subscriptions/sub/resourceGroups/rg/providers/"
                                         "Microsoft.MachineLearningServices/workspaces/ws")

    class MLClient:
        def __init__(self, credential, subscription_id=None, resource_group_name=None, workspace_name=None, **kw):
            calls["client"] = (subscription_id, resource_group_name, workspace_name)
            self.workspaces = Workspaces()

    ml = types.ModuleType("azure.ai.ml")
    ml.MLClient = MLClient
    identity = types.ModuleType("azure.identity")
    identity.ClientSecretCredential, identity.DefaultAzureCredential = ClientSecretCredential, DefaultAzureCredential
    monkeypatch.setitem(sys.modules, "azure.ai.ml", ml)
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    return calls


def test_azureml_workspace_resolves_to_its_mlflow_tracking_uri(azure_sdk, monkeypatch):
    monkeypatch.setenv("SP_SECRET", FAKE_SECRET)
    uri = azureml.tracking_uri(REF)
    assert uri.startswith("azureml://") and uri.endswith("/workspaces/ws")
    assert azure_sdk["client"] == ("sub", "rg", "ws") and azure_sdk["get"] == "ws"
    assert azure_sdk["credential"] == ("secret", "tenant", "app", FAKE_SECRET)
    azureml.tracking_uri(AzureML(subscription_id="sub", resource_group="rg", workspace_name="ws"))
    assert azure_sdk["credential"] == ("default",)


def test_azureml_needs_its_secret_and_the_extra(azure_sdk, monkeypatch):
    monkeypatch.delenv("SP_SECRET", raising=False)
    with pytest.raises(NotGradable, match="export SP_SECRET"):
        azureml.tracking_uri(REF)
    monkeypatch.setenv("SP_SECRET", FAKE_SECRET)
    monkeypatch.setitem(sys.modules, "azure.ai.ml", None)  # as when azure-ai-ml is not installed
    with pytest.raises(NotGradable, match=r"wth-mlops\[azure\]"):
        azureml.tracking_uri(REF)


def test_an_endpoint_refusing_the_key_says_whether_one_was_sent(monkeypatch):
    """A managed online endpoint with key auth answers 401 without the right `Authorization: Bearer`."""
    from grader.probes.endpoint import EndpointProbe
    from grader.teams import Endpoint

    class KeyAuth(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = self.headers.get("Authorization") == f"Bearer {FAKE_SECRET}"
            body = json.dumps({"forecast": [1.0], "dates": ["2014-01-01"], "model": {"name": "m", "version": "1"}}
                              if ok else {"message": "unauthorized"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeyAuth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}/score"
    try:
        monkeypatch.delenv("TEAM_KEY", raising=False)
        unsent = EndpointProbe(Endpoint(uri=uri, key_env="TEAM_KEY")).score({"steps": 1})
        monkeypatch.setenv("TEAM_KEY", "an-old-key")
        wrong = EndpointProbe(Endpoint(uri=uri, key_env="TEAM_KEY")).score({"steps": 1})
        monkeypatch.setenv("TEAM_KEY", FAKE_SECRET)
        right = EndpointProbe(Endpoint(uri=uri, key_env="TEAM_KEY")).score({"steps": 1})
    finally:
        server.shutdown()
        server.server_close()
    assert unsent.status == 401 and "wants a key: give endpoint.key_env" in unsent.excerpt()
    assert wrong.status == 401 and "refused the key" in wrong.excerpt() and "an-old-key" not in wrong.excerpt()
    assert right.status == 200 and right.refusal() is None
