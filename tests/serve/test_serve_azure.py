"""The Azure path without Azure and without the Azure SDK (base venv): the deployment's environment is
composed from the registered version's own requirements plus the server and covers what the served
code imports; the workspace is found from flags, `AZURE_*` variables or config.json; the smoke test
speaks to a managed endpoint as Azure ML expects (key, deployment header, no `GET /`); the offline
path never imports an Azure SDK. The SDK v2 deployer itself runs in tests/azure_extra."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from solution import azure_workspace as targets
from solution.azure import deploy as azure
from wth import azureml, smoke
from wth.errors import UsageError

REPO = Path(azure.__file__).resolve().parents[2]
SERVED = ("solution/score.py", "wth/__init__.py", "wth/contract.py", "wth/settings.py")  # what /.amlignore lets Azure ML upload


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _closure(requirements: list[str]) -> set[str]:
    """Distributions the requirements install, following the installed metadata (the same releases here)."""
    seen, todo = set(), [azure.requirement_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [azure.requirement_name(r) for r in needs if "extra ==" not in r]
    return seen


def test_amlignore_ships_the_entry_script_and_the_shared_modules_it_imports():
    ignore = (REPO / ".amlignore").read_text()
    assert all(f"!/{path}" in ignore for path in SERVED)
    spec = yaml.safe_load(azure.DEPLOYMENT_FILE.read_text())
    assert (azure.HERE / spec["code_configuration"]["code"]).resolve() == REPO
    assert spec["code_configuration"]["scoring_script"] == "solution/score.py"
    assert spec["instance_type"] == "Standard_DS3_v2"
    ours = {name for path in SERVED for name in _imports(REPO / path) if name.split(".")[0] in ("wth", "solution")}
    assert {f"{name.replace('.', '/')}.py" for name in ours} <= set(SERVED), ours


def test_environment_holds_what_the_served_code_imports(trained_ws):
    """The conda spec the deployer sends: environment.yml plus the champion's own requirements.txt."""
    requirements = azure.model_requirements(trained_ws, "1")
    spec = azure.environment(requirements)
    assert "python=3.11" in spec["dependencies"]
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert [r for r in requirements if r.strip() and not r.startswith("#")] == pip[:len(pip) - 1]
    installed = _closure(pip)
    needed = {name.split(".")[0] for path in SERVED for name in _imports(REPO / path)}
    needed -= set(sys.stdlib_module_names) | {"wth", "solution", "__future__"}
    distributions = metadata.packages_distributions()
    missing = {n for n in needed if not {azure.requirement_name(d) for d in distributions.get(n, [n])} & installed}
    assert not missing, f"the deployment's environment lacks {missing}"
    training = {"statsmodels", "pmdarima", "scipy", "threadpoolctl"}
    assert not {azure.requirement_name(r) for r in pip} & training, "the served model needs no training package"


def test_the_models_pin_wins_over_the_base():
    spec = azure.environment(["azureml-inference-server-http==1.5.1", "mlflow==3.17.2", "# a comment", ""])
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert pip == ["azureml-inference-server-http==1.5.1", "mlflow==3.17.2"]


# --- which workspace --------------------------------------------------------------------------------


@pytest.fixture
def no_azure_env(monkeypatch, tmp_path):
    for _, _, env in targets.FIELDS:
        monkeypatch.delenv(env, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_workspace_comes_from_flags_then_variables_then_config_json(no_azure_env, monkeypatch):
    (no_azure_env / "config.json").write_text(json.dumps(
        {"subscription_id": "sub-file", "resource_group": "rg-file", "workspace_name": "ws-file"}))
    assert targets.resolve() == azureml.Workspace("sub-file", "rg-file", "ws-file")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg-env")
    assert targets.resolve(workspace_name="ws-flag") == azureml.Workspace("sub-file", "rg-env", "ws-flag")


def test_a_missing_workspace_says_which_flags_in_one_line(no_azure_env):
    with pytest.raises(UsageError) as missing:
        targets.resolve(subscription="sub")
    assert "--resource-group (or $AZURE_RESOURCE_GROUP)" in str(missing.value)
    assert "--subscription" not in str(missing.value) and "\n" not in str(missing.value)
    (no_azure_env / "bad.json").write_text("[1]")
    with pytest.raises(UsageError, match="not a workspace config.json"):
        targets.resolve(config=no_azure_env / "bad.json")


def test_the_cli_refuses_local_flags_and_a_local_registry_for_azureml(no_azure_env, capsys):
    from solution import cli

    assert cli.main(["deploy", "--target", "azureml", "--port", "5001"]) == 2
    assert "--port: for the local endpoint" in capsys.readouterr().err
    assert cli.main(["deploy", "--target", "azureml", "--traffic", "0"]) == 2
    assert "--traffic 0: a percentage 1..100" in capsys.readouterr().err
    ws = ["--subscription", "s", "--resource-group", "r", "--workspace-name", "w"]
    assert cli.main(["pipeline", "release", "--target", "azureml", *ws, "--workspace", str(no_azure_env)]) == 2
    err = capsys.readouterr().err
    assert "registered in the Azure ML workspace" in err and err.count("\n") == 1


def test_the_local_release_refuses_the_azure_only_deployment_flags(no_azure_env, capsys):
    """Locally `pipeline release` is a blue/green rollout: a named deployment or a traffic share is refused, not ignored."""
    from solution import cli

    for flags in (["--deployment", "canary"], ["--traffic", "10"]):
        assert cli.main(["pipeline", "release", *flags, "--workspace", str(no_azure_env / "ws")]) == 2
        err = capsys.readouterr().err
        assert "go with `pipeline release --target azureml`" in err and err.count("\n") == 1
    assert not (no_azure_env / "ws").exists()


@pytest.mark.parametrize("argv", [["deploy"], ["pipeline", "release"]], ids=["deploy", "pipeline release"])
def test_the_help_documents_the_azure_flags(argv, capsys):
    from solution import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([*argv, "--help"])
    text = capsys.readouterr().out
    for flag in ("--target {local,azureml}", "--subscription", "--resource-group", "--workspace-name", "--config",
                 "--endpoint", "--deployment", "--traffic PCT", "$AZURE_SUBSCRIPTION_ID"):
        assert flag in text, flag


def test_without_the_sdk_it_says_how_to_install_it(no_azure_env, capsys, monkeypatch):
    from solution import cli

    monkeypatch.setitem(sys.modules, "azure.ai.ml", None)  # as when the extra is not installed
    ws = ["--subscription", "s", "--resource-group", "r", "--workspace-name", "w"]
    assert cli.main(["deploy", "--target", "azureml", *ws]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[azure]'" in err and err.count("\n") == 1


# --- the smoke test against a managed endpoint ------------------------------------------------------


def test_the_smoke_test_sends_the_key_and_the_deployment_and_no_health_check():
    seen = []

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            seen.append((self.command, self.path, self.headers.get("Authorization"),
                         self.headers.get("azureml-model-deployment")))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(401)  # as a managed endpoint answers a key it does not know
            self.end_headers()

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        failures = smoke.check(f"http://127.0.0.1:{server.server_address[1]}/score", key="the-key",
                               deployment="green", health=False)
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] == ("POST", "/score", "Bearer the-key", "green")
    assert all(method == "POST" for method, *_ in seen)
    assert "refused the key (401)" in failures[0]


def test_the_offline_path_never_imports_an_azure_sdk():
    code = ("import sys, solution.cli, solution.endpoint, solution.azure.deploy, solution.azure_workspace, "
            "wth.smoke, wth.analyst_report, wth.registry; "
            "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] for m in sys.modules "
            "if re.match(r'azure(ml)?\\.', m)}))")
    out = subprocess.run([sys.executable, "-c", "import re; " + code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert re.search(r"azure", out.stderr) is None, out.stderr
