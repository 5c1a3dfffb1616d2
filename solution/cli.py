"""`wth-solution`: the reference solution's command line (the CLI contract in docs/contracts.md).

Thin by design: each command parses its arguments and calls the library module of its stage.
Exit status: 0 success, 1 a failed step, 2 bad usage or bad input, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import warnings

from wth import ui
from wth.cli_parsing import Parser, run
from wth.errors import UsageError


def _say(message: str) -> None:
    print(message, flush=True)


# --- command functions: parse nothing, call the library ---------------------------------------


def cmd_acquire(args) -> int:
    from . import acquisition, workspace

    ws = workspace.resolve(args.workspace)
    record = acquisition.acquire(ws.root, args.source, args.start, args.end)
    _say(
        f"acquired {record.rows:,} rows from {record.source} (sha256 {record.sha256[:12]}): "
        f"{record.days} days {record.start}..{record.end}, {record.interpolated_days} interpolated"
    )
    return 0


def cmd_train(args) -> int:
    from . import pipelines, workspace

    ws = workspace.resolve(args.workspace)
    version = pipelines.train(ws, data_path=args.data, train_end=args.train_end, progress=_say)
    _say(f"registered {ws.model_name} version {version.version}")
    return 0


def cmd_pipeline(args) -> int:
    from . import workspace

    if args.pipeline == "release" and args.target == "azureml":
        return cmd_azureml(args)
    if args.pipeline == "release" and (args.deployment is not None or args.traffic is not None):
        raise UsageError("--deployment and --traffic go with `pipeline release --target azureml`; locally the "
                         "release is a blue/green rollout (`wth-solution deploy --deployment NAME` adds a named one)")
    ws = workspace.resolve(args.workspace)
    if args.pipeline == "build":
        from . import pipelines

        pipelines.build(ws, source=args.source, start=args.start, end=args.end,
                        train_end=args.train_end, progress=_say)
        return 0
    if args.pipeline == "release":
        from . import endpoint

        endpoint.release_pipeline(ws, port=args.port, progress=_say)
        return 0
    if args.pipeline == "retrain":
        return cmd_retrain(args)
    return cmd_drift(args)


def cmd_azureml(args) -> int:
    """`deploy --target azureml` and `pipeline release --target azureml`: the Azure ML managed online endpoint."""
    from .azure import deploy as azure

    release = azure.run(pipeline=args.command == "pipeline", workspace=args.workspace,
                        subscription=args.subscription, resource_group=args.resource_group,
                        workspace_name=args.workspace_name, config=args.config,
                        version=getattr(args, "version", None), alias=getattr(args, "alias", None),
                        endpoint=args.endpoint, deployment=args.deployment,
                        traffic=100 if args.traffic is None else args.traffic,
                        local_flags={"--port": args.port, "--host": getattr(args, "host", None),
                                     "--auth": getattr(args, "auth", None)}, progress=_say)
    print(release.scoring_uri)
    return 0


def cmd_deploy(args) -> int:
    from . import endpoint, workspace

    if args.target == "azureml":
        return cmd_azureml(args)

    ws = workspace.resolve(args.workspace)
    record = endpoint.deploy(ws, version=args.version, alias=args.alias, port=args.port, progress=_say,
                             host=args.host, deployment=args.deployment, traffic=args.traffic, auth=args.auth)
    print(record.scoring_uri)
    return 0


def cmd_endpoint(args) -> int:
    from . import endpoint, workspace

    ws = workspace.resolve(args.workspace)
    return endpoint.command(ws, args.action, progress=_say, split=args.split, regenerate=args.regenerate)


def cmd_smoke_test(args) -> int:
    from . import endpoint_clients, workspace

    ws = workspace.resolve(args.workspace)
    return endpoint_clients.smoke_test(ws, uri=args.uri, progress=_say)


def cmd_report(args) -> int:
    from . import endpoint_clients, workspace

    ws = workspace.resolve(args.workspace)
    path = endpoint_clients.write_report(ws, uri=args.uri, out=args.out, steps=args.steps)
    _say(f"report written to {path}")
    return 0


def cmd_retrain(args) -> int:
    from . import retrain, workspace

    ws = workspace.resolve(args.workspace)
    retrain.run(ws, new_data=args.new_data, margin=args.margin, progress=_say)
    return 0


def cmd_drift(args) -> int:
    from . import drift, workspace

    ws = workspace.resolve(args.workspace)
    return drift.run(ws, batch=args.batch, thresholds=drift.Thresholds.given(args),
                     retrain_on_drift=args.retrain_on_drift, margin=args.margin, progress=_say)


def cmd_simulate(args) -> int:
    from wth import simulate

    simulate.write_bundle(args.out, progress=_say)
    return 0


def cmd_demo(args) -> int:
    from . import demo, workspace

    ws = workspace.resolve(args.workspace)
    return demo.run(ws, keep_serving=args.keep_serving, port=args.port, progress=_say)


def cmd_workspace(args) -> int:
    from . import workspace

    ws = workspace.resolve(args.workspace)
    return workspace.serve_ui(ws, port=args.port)


# --- the parser ---------------------------------------------------------------------------------


def _stage(module: str, add: str = "add_arguments"):
    """A subcommand's options as its stage declares them (`module.add`), added when that subcommand is chosen:
    the stage's imports (MLflow, 2 s) are its own command's, not `--help`'s or the endpoint commands'."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        getattr(importlib.import_module(f"solution.{module}"), add)(parser)

    return arguments


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from .endpoint import DEFAULT_PORT

    parser.add_argument("--keep-serving", action="store_true", help="leave the endpoint running at the end")
    parser.add_argument("--port", type=int, default=None, help=f"port of the local endpoint (default {DEFAULT_PORT})")


def build_parser() -> argparse.ArgumentParser:
    """Options anywhere on the line (wth.cli_parsing); the global option, also before the command, is --workspace."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", metavar="DIR",
                        help="workspace folder, MLflow tracking URI, or azureml (the Azure ML workspace of "
                             "$AZURE_SUBSCRIPTION_ID, $AZURE_RESOURCE_GROUP, $AZURE_ML_WORKSPACE or config.json; "
                             "default: $WTH_WORKSPACE or .wth)")

    parser = Parser(prog="wth-solution", description=__doc__.splitlines()[0], parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("acquire", parents=[common], help="read, validate and record the transactions",
                       arguments=_stage("acquisition"))
    p.set_defaults(func=cmd_acquire)

    p = sub.add_parser("train", parents=[common], help="select, train, evaluate and register a model",
                       arguments=_stage("pipelines", "add_train_arguments"))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pipeline", parents=[common], help="run an ML pipeline, recorded as a pipeline run")
    pipes = p.add_subparsers(dest="pipeline", required=True, metavar="PIPELINE")
    pipes.add_parser("build", parents=[common], help="acquire, validate, train, evaluate, register",
                     arguments=_stage("pipelines", "add_build_arguments"))
    pipes.add_parser("release", parents=[common], help="deploy the champion and smoke-test it",
                     arguments=_stage("endpoint", "add_release_arguments"))
    pipes.add_parser("retrain", parents=[common], help="train a challenger on new data; promote only if better",
                     arguments=_stage("retrain"))
    pipes.add_parser("drift", parents=[common], help="check a batch of new actuals for drift", arguments=_stage("drift"))
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("deploy", parents=[common], help="serve a registered version on the local inference server",
                       arguments=_stage("endpoint", "add_deploy_arguments"))
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("endpoint", parents=[common], help="the local endpoint: status, traffic, keys, logs, stop",
                       epilog="examples: endpoint traffic blue=90 green=10 | endpoint keys --regenerate secondary",
                       arguments=_stage("endpoint"))
    p.set_defaults(func=cmd_endpoint)

    p = sub.add_parser("smoke-test", parents=[common], help="check a live endpoint against the contract",
                       arguments=_stage("endpoint_clients", "add_smoke_test_arguments"))
    p.set_defaults(func=cmd_smoke_test)

    p = sub.add_parser("report", parents=[common], help="the analyst's HTML forecast report, scored through the endpoint",
                       arguments=_stage("endpoint_clients", "add_report_arguments"))
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("retrain", parents=[common], help="train a challenger on new data; promote only if better",
                       arguments=_stage("retrain"))
    p.set_defaults(func=cmd_retrain)

    p = sub.add_parser("drift", parents=[common], help="check a batch of new actuals for drift", arguments=_stage("drift"))
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser("simulate", help="regenerate the bundled simulated data set")
    p.add_argument("--out", default=None, help="folder to write to (default: resources/data)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", parents=[common], help="the whole reference path end to end", arguments=_demo_arguments)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("workspace", parents=[common], help="the workspace's MLflow UI")
    p.add_argument("action", choices=["serve"])
    p.add_argument("--port", type=int, default=ui.PORT, help=f"port to listen on (default {ui.PORT})")
    p.set_defaults(func=cmd_workspace)
    return parser


def _quiet_libraries() -> None:
    """Keep the output to what a person reads: MLflow's INFO chatter and known-harmless warnings go."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is first imported
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # MLflow registers its local artifact dataset source twice and then warns that a file:// source
    # is ambiguous between the two; nothing to act on.
    warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")


def _name(args) -> str:
    return " ".join(["wth-solution", args.command] + ([args.pipeline] if args.command == "pipeline" else []))


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    return run(build_parser(), argv, _name)

