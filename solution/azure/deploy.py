"""Release a registered version to an Azure ML managed online endpoint, blue/green, with the SDK v2
(`azure-ai-ml`, the `azure` extra; imported only when called, so the offline path imports this file).

The definitions are the CLI v2 YAML files beside this module, loaded by the SDK's own loaders; code
fills in the deployment's name, the model version and its environment (`environment.yml` plus the
version's own `requirements.txt`). The order is the local endpoint's: create the endpoint when
missing; create the new deployment with no traffic; smoke-test it through its own deployment; move
the traffic (100 %, or `--traffic PCT` for a canary that stops there); delete the old deployment
after a full switch. A failure before the switch leaves the old deployment with the traffic it had,
deletes the new one and raises `StepFailed` saying what still serves. Tested against a stand-in of
the `MLClient` operations returning the SDK's own entities (solution/azure/README.md).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wth import azureml
from wth.config import MODEL_NAME
from wth.errors import StepFailed, UsageError
from wth.workspace_contract import RELEASE_PIPELINE, RELEASED_VERSION, SCORING_URI, SMOKE_TEST_STEP

from .. import azure_workspace

HERE = Path(__file__).resolve().parent
ENDPOINT_FILE = HERE / "endpoint.yml"
DEPLOYMENT_FILE = HERE / "deployment.yml"
CONDA_FILE = HERE / "environment.yml"
COLOURS = ("blue", "green")
LOG_LINES = 30

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass
class Release:
    endpoint: str
    scoring_uri: str
    deployment: str  # the new deployment, serving `model_version`
    model_version: str
    traffic: dict[str, int]
    retired: str | None = None  # the old deployment, deleted after a full switch
    notes: list[str] = field(default_factory=list)  # what went wrong after the switch (nothing that serves)

    @property
    def canary(self) -> bool:
        return self.traffic.get(self.deployment, 0) < 100


class _Failed(Exception):
    """One Azure operation failed; the message says which and why."""


def _sdk():
    try:
        from azure.ai.ml import load_online_deployment, load_online_endpoint
        from azure.core.exceptions import ResourceNotFoundError
    except ImportError:
        raise UsageError(f"the Azure ML SDK v2 (azure-ai-ml) is not installed: {azure_workspace.INSTALL}") from None
    return load_online_endpoint, load_online_deployment, ResourceNotFoundError


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "message", None) or err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


# --- the definitions ------------------------------------------------------------------------------


def requirement_name(line: str) -> str:
    return re.split(r"[<>=!~;\[ @]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def environment(requirements: list[str]) -> dict:
    """The deployment's conda spec: `environment.yml` (Python, the inference server) plus the model's
    own pip requirements; the model's pin wins where both name a package."""
    spec = yaml.safe_load(CONDA_FILE.read_text())
    pip = next(d for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    model = [r.strip() for r in requirements if r.strip() and not r.strip().startswith(("#", "-"))]
    named = {requirement_name(r) for r in model}
    pip["pip"] = model + [r for r in pip["pip"] if requirement_name(r) not in named]
    return spec


def model_requirements(ws, version: str) -> list[str]:
    """The registered version's own `requirements.txt`, from the registry through MLflow."""
    import mlflow.pyfunc

    ws.activate()
    try:
        path = mlflow.pyfunc.get_model_dependencies(f"models:/{ws.model_name}/{version}", format="pip")
    except Exception as err:  # MLflow raises several types for a missing or unreadable artifact
        raise StepFailed(f"cannot read the requirements of {ws.model_name} version {version}: {_reason(err)}") from None
    return Path(path).read_text().splitlines()


def load_endpoint(name: str | None = None):
    """`endpoint.yml` as a `ManagedOnlineEndpoint`, through the SDK's loader (its schema validation)."""
    load_online_endpoint, _, _ = _sdk()
    return load_online_endpoint(ENDPOINT_FILE, params_override=[{"name": name}] if name else None)


def load_deployment(name: str, endpoint: str, version: str, requirements: list[str], model_name: str = MODEL_NAME):
    """`deployment.yml` as a `ManagedOnlineDeployment` for `version`, its environment completed."""
    _, load_online_deployment, _ = _sdk()
    deployment = load_online_deployment(DEPLOYMENT_FILE, params_override=[
        {"name": name}, {"endpoint_name": endpoint}, {"model": f"azureml:{model_name}:{version}"}])
    deployment.environment.conda_file = environment(requirements)
    return deployment


# --- the release ----------------------------------------------------------------------------------


def _wait(poller, what: str):
    try:
        return poller.result()
    except Exception as err:  # HttpResponseError, a failed LRO, a timeout: the message carries the cause
        raise _Failed(f"{what}: {_reason(err)}") from None


def _call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        raise _Failed(f"{what}: {_reason(err)}") from None


def _serving(traffic: dict[str, int] | None) -> dict[str, int]:
    """The deployments that take traffic (a deployment at 0 % serves nobody)."""
    return {str(name): int(pct) for name, pct in (traffic or {}).items() if int(pct)}


def _share(traffic: dict[str, int]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in _serving(traffic).items()) or "no deployment"


def _kept(traffic: dict[str, int]) -> str:
    return f"the traffic stays as it was ({_share(traffic)})" if _serving(traffic) else "no deployment was taking traffic"


def _logs(ml_client, name: str, endpoint: str) -> str:
    try:
        text = ml_client.online_deployments.get_logs(name=name, endpoint_name=endpoint, lines=LOG_LINES) or ""
    except Exception:  # the logs are a courtesy: a deployment that never started may have none
        return ""
    tail = " | ".join(line.strip() for line in text.strip().splitlines()[-5:] if line.strip())
    return f"; last log lines: {tail[-600:]}" if tail else ""


def _discard(ml_client, name: str, endpoint: str, progress: Progress) -> str:
    """Delete a failed new deployment (it takes no traffic); say so if that fails too."""
    try:
        _wait(ml_client.online_deployments.begin_delete(name=name, endpoint_name=endpoint), f"deleting {name}")
    except _Failed as err:
        return f"; the failed deployment {name} is left in place ({err})"
    progress(f"deleted the failed deployment {name}")
    return ""


def _restore(ml_client, endpoint: str, before: dict[str, int]) -> str:
    """Put the endpoint's traffic back to `before` if a failed update left it otherwise."""
    try:
        now = _call("reading the endpoint", ml_client.online_endpoints.get, endpoint)
        if _serving(now.traffic) == _serving(before):
            return _kept(before)
        now.traffic = dict(before)
        _wait(ml_client.online_endpoints.begin_create_or_update(now), "restoring the traffic")
    except _Failed as err:
        return f"the traffic could not be put back to {_share(before)} ({err}): check the endpoint now"
    return f"the traffic is back to {_share(before)}"


def _check_traffic(traffic: int) -> None:
    if not 1 <= traffic <= 100:
        raise UsageError(f"--traffic {traffic}: a percentage 1..100")


def deploy(ml_client, model_version: str, requirements: list[str], *, train_end: str | None = None,
           endpoint: str | None = None, deployment: str | None = None, traffic: int = 100,
           model_name: str = MODEL_NAME, progress: Progress = _quiet, smoke=None) -> Release:
    """Release `model_version` to the managed online endpoint (see the module docstring for the order)."""
    _, _, ResourceNotFoundError = _sdk()
    if smoke is None:
        from wth.smoke import check as smoke
    _check_traffic(traffic)
    spec = load_endpoint(endpoint)
    name = spec.name
    try:
        current = ml_client.online_endpoints.get(name)
    except ResourceNotFoundError:
        current = None
    except Exception as err:  # azure-core's hierarchy: sign-in, permissions, network
        raise StepFailed(f"cannot read endpoint {name}: {_reason(err)}") from None
    before = {str(k): int(v) for k, v in ((current.traffic if current else None) or {}).items()}
    serving = _serving(before)
    old = max(serving, key=serving.get) if serving else None
    new = deployment or next(c for c in COLOURS if c != old)
    if new in serving:
        raise UsageError(f"deployment {new} takes {before[new]}% of the traffic of {name}: "
                         "choose another --deployment")
    if traffic < 100 and old is None:
        raise UsageError(f"--traffic {traffic}: a canary needs a deployment already serving on {name}")
    if current is None:
        progress(f"creating endpoint {name} ({spec.auth_mode} auth)")
        try:
            _wait(ml_client.online_endpoints.begin_create_or_update(spec), f"creating endpoint {name}")
        except _Failed as err:
            raise StepFailed(f"endpoint {name}: {err}") from None

    spec_deployment = load_deployment(new, name, model_version, requirements, model_name)
    progress(f"creating deployment {new} on {name}: {model_name} version {model_version} on "
             f"{spec_deployment.instance_count} x {spec_deployment.instance_type}, no traffic yet")
    try:
        created = _wait(ml_client.online_deployments.begin_create_or_update(spec_deployment), f"creating {new}")
        state = getattr(created, "provisioning_state", None)
        if state and str(state).lower() != "succeeded":
            raise _Failed(f"provisioning state {state}")
    except _Failed as err:
        logs = _logs(ml_client, new, name)
        left = _discard(ml_client, new, name, progress)
        raise StepFailed(f"deployment {new} failed to provision ({err}){logs}{left}; {_kept(before)}") from None

    try:
        current = _call("reading the endpoint", ml_client.online_endpoints.get, name)
        key = _call("reading the endpoint keys", ml_client.online_endpoints.get_keys, name).primary_key
    except _Failed as err:
        left = _discard(ml_client, new, name, progress)
        raise StepFailed(f"endpoint {name}: {err}{left}; {_kept(before)}") from None
    progress(f"smoke-testing deployment {new} through {current.scoring_uri}")
    failures = smoke(current.scoring_uri, expected_version=str(model_version), expected_train_end=train_end,
                     key=key, deployment=new, health=False)
    if failures:
        for line in failures:
            progress(f"  FAIL {line}")
        left = _discard(ml_client, new, name, progress)
        raise StepFailed(f"version {model_version} on deployment {new} failed the smoke test ({failures[0]})"
                         f"{left}; {_kept(before)}")
    progress(f"deployment {new} passed the smoke test")

    after = {dep: 0 for dep in before}
    after[new] = traffic
    if old is not None and traffic < 100:
        after[old] = 100 - traffic
    current.traffic = after
    try:
        _wait(ml_client.online_endpoints.begin_create_or_update(current), f"moving the traffic to {_share(after)}")
    except _Failed as err:
        restored = _restore(ml_client, name, before)
        left = _discard(ml_client, new, name, progress)
        raise StepFailed(f"{err}; {restored}{left}") from None
    progress(f"traffic on {name}: {_share(after)}")

    release = Release(endpoint=name, scoring_uri=current.scoring_uri, deployment=new,
                      model_version=str(model_version), traffic=after)
    if old is not None and traffic == 100:
        try:
            _wait(ml_client.online_deployments.begin_delete(name=old, endpoint_name=name), f"deleting {old}")
            release.retired = old
            progress(f"deleted the old deployment {old}")
        except _Failed as err:  # it takes no traffic any more: the release stands, the leftover costs money
            release.notes.append(f"the old deployment {old} takes no traffic but could not be deleted ({err})")
            progress(f"warning: {release.notes[-1]}")
    elif old is not None:
        progress(f"canary: {old} keeps {after[old]}%; move the rest with "
                 f"`az ml online-endpoint update -n {name} --traffic \"{new}=100\"`")
    return release


# --- entry points: the CLI's `deploy --target azureml` and `pipeline release --target azureml` ----


def _registered(ws, version: str | None, alias: str | None):
    from .. import workspace

    return workspace.model_version(ws, version=version, alias=alias)


def deploy_version(ws, target: azureml.Workspace, version: str | None = None, alias: str | None = None,
                   endpoint: str | None = None, deployment: str | None = None, traffic: int = 100,
                   progress: Progress = _quiet, ml_client=None, smoke=None) -> Release:
    """`wth-solution deploy --target azureml`: a registered version (default: the champion)."""
    mv = _registered(ws, version, alias)
    requirements = model_requirements(ws, mv.version)
    ml_client = ml_client or azure_workspace.client(target)
    progress(f"releasing {mv.name} version {mv.version} to {target}")
    return deploy(ml_client, str(mv.version), requirements, train_end=(mv.tags or {}).get("train_end"),
                  endpoint=endpoint, deployment=deployment, traffic=traffic, model_name=mv.name,
                  progress=progress, smoke=smoke)


def release_pipeline(ws, target: azureml.Workspace, endpoint: str | None = None, deployment: str | None = None,
                     traffic: int = 100, progress: Progress = _quiet, ml_client=None, smoke=None) -> Release:
    """The release pipeline on Azure ML, recorded as the local one is: a run `wth.pipeline=release`
    with steps `deploy` and `smoke-test` (the latter through the endpoint's scoring URI)."""
    import mlflow

    from wth.smoke import report

    from .. import workspace

    if smoke is None:
        from wth.smoke import check as smoke
    mv = _registered(ws, None, None)
    requirements = model_requirements(ws, mv.version)
    ml_client = ml_client or azure_workspace.client(target)
    with workspace.pipeline_run(ws, RELEASE_PIPELINE, **{RELEASED_VERSION: str(mv.version)}, target="azureml") as parent:
        with workspace.step("deploy"):
            release = deploy(ml_client, str(mv.version), requirements, train_end=(mv.tags or {}).get("train_end"),
                             endpoint=endpoint, deployment=deployment, traffic=traffic, model_name=mv.name,
                             progress=progress, smoke=smoke)
            mlflow.set_tags({RELEASED_VERSION: release.model_version, SCORING_URI: release.scoring_uri,
                             "endpoint": release.endpoint, "deployment": release.deployment,
                             "traffic": _share(release.traffic)})
        mlflow.set_tag(SCORING_URI, release.scoring_uri)
        with workspace.step(SMOKE_TEST_STEP):
            try:
                key = ml_client.online_endpoints.get_keys(release.endpoint).primary_key
            except Exception as err:
                raise StepFailed(f"cannot read the keys of endpoint {release.endpoint}: {_reason(err)}") from None
            # a canary shares the endpoint: aim at the new deployment; after a full switch, the endpoint itself
            failures = smoke(release.scoring_uri, expected_version=release.model_version,
                             expected_train_end=(mv.tags or {}).get("train_end"), key=key,
                             deployment=release.deployment if release.canary else None, health=False)
            mlflow.log_metrics({"checks_failed": len(failures)})
            report(release.scoring_uri, failures, progress)
        progress(f"release run {parent.info.run_id}: version {mv.version} on deployment {release.deployment} "
                 f"of {release.endpoint}, traffic {_share(release.traffic)}, at {release.scoring_uri}")
    return release


def run(pipeline: bool, workspace: str | None = None, subscription: str | None = None,
        resource_group: str | None = None, workspace_name: str | None = None, config: str | None = None,
        version: str | None = None, alias: str | None = None, endpoint: str | None = None,
        deployment: str | None = None, traffic: int = 100, local_flags: dict | None = None,
        progress: Progress = _quiet) -> Release:
    """What the CLI calls: resolve the Azure ML workspace (flags, `AZURE_*`, config.json) and its MLflow
    registry (`--workspace`, else `$WTH_WORKSPACE`, else that workspace's tracking URI), then release."""
    from wth import settings

    from .. import workspace as workspaces

    given = [flag for flag, value in (local_flags or {}).items() if value is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: for the local endpoint, not --target azureml")
    _check_traffic(traffic)
    where = azure_workspace.resolve(subscription, resource_group, workspace_name, config)
    value, ml_client = workspace or settings.WORKSPACE.get(default=workspaces.AZUREML), None
    if value == workspaces.AZUREML:  # the registry of `where` itself: one client (one sign-in) for it and the release
        ml_client = azure_workspace.client(where)
        value = azure_workspace.tracking_uri(where, ml_client)
    ws = workspaces.resolve(value)
    if ws.is_local:  # the deployment names `azureml:<model>:<version>`: it must be registered there
        raise UsageError(f"--target azureml deploys a version registered in the Azure ML workspace, not in {ws.root}: "
                         "use --workspace azureml (or the workspace's MLflow tracking URI)")
    options = {"endpoint": endpoint, "deployment": deployment, "traffic": traffic, "progress": progress,
               "ml_client": ml_client}
    if pipeline:
        return release_pipeline(ws, where, **options)
    return deploy_version(ws, where, version=version, alias=alias, **options)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `deploy` and `pipeline release` that choose the target, an Azure ML workspace
    (`solution.azure_workspace`) and the named deployments."""
    parser.add_argument("--target", choices=["local", "azureml"], default="local",
                        help="local: the inference server on this machine (default); azureml: an Azure ML "
                             "managed online endpoint, blue/green (the `azure` extra)")
    azure = parser.add_argument_group("--target azureml", "the workspace: each flag, else its variable, else config.json")
    azure.add_argument("--subscription", metavar="ID", help="Azure subscription id ($AZURE_SUBSCRIPTION_ID)")
    azure.add_argument("--resource-group", metavar="NAME", help="resource group ($AZURE_RESOURCE_GROUP)")
    azure.add_argument("--workspace-name", metavar="NAME", help="Azure ML workspace ($AZURE_ML_WORKSPACE)")
    azure.add_argument("--config", metavar="PATH", help="the workspace's config.json "
                                                        "(default: ./config.json or ./.azureml/config.json)")
    azure.add_argument("--endpoint", metavar="NAME", help="managed online endpoint (default: solution/azure/endpoint.yml's)")
    both = parser.add_argument_group("deployments", "named deployments, on either target")
    both.add_argument("--deployment", metavar="NAME",
                      help="the new deployment (default: blue or green, whichever is not serving, and 100%% of "
                           "the traffic after its smoke test); locally a named one is added or replaced beside "
                           "the others")
    both.add_argument("--traffic", type=int, metavar="PCT",
                      help="percent of the traffic the new deployment gets (azureml default 100: the full switch, "
                           "then the old deployment is deleted; less is a canary that stops there; local default "
                           "0 beside others, 100 when first)")
