"""`wth`: the students' tools. The endpoint smoke test, the analyst's report, the MLflow UI, and the
commands installed packages add through the `wth.commands` entry-point group (the grader's `check`);
no reference solution inside.

Each command parses its arguments and calls the library. Exit status: 0 success, 1 a failed check,
2 bad usage or bad input, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

from . import contract, settings, ui
from .ci import cli as ci
from .cli_parsing import Parser, run

COMMANDS = "wth.commands"  # entry points: functions that add a command to the subparsers they are given


def cmd_smoke_test(args) -> int:
    from . import smoke

    key = smoke.key_from_env(args.key_env)
    uri = smoke.validate_uri(args.uri)
    print(f"smoke-testing {uri}", flush=True)
    return smoke.run(uri, progress=lambda line: print(line, flush=True), expected_version=args.expect_version,
                     expected_train_end=args.train_end, key=key, deployment=args.deployment,
                     require_interval=args.require_interval)


def cmd_report(args) -> int:
    from . import analyst_report, data, smoke

    key = smoke.key_from_env(args.key_env)
    smoke.validate_uri(args.uri)  # before reading the data: a mistyped URI is refused at once
    actuals = None
    if args.data:
        rows = data.read_transactions(args.data)
        actuals, _ = data.daily_series(rows, *data.span(rows))
    path = analyst_report.write(args.uri, args.out, args.steps, actuals, key=key)
    print(f"report written to {path}")
    return 0


def cmd_ui(args) -> int:
    return ui.serve(args.workspace, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    """Options anywhere on the line (wth.cli_parsing); no global option but --help, as the commands share none."""
    parser = Parser(prog="wth", description="The hack's tools for teams: self-check, CI runs, smoke test, report, MLflow UI.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in {entry.name: entry for entry in entry_points(group=COMMANDS)}.values():  # one per name
        command.load()(sub)
    ci.register(sub)

    def endpoint_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--uri", required=True, help="the scoring URI, e.g. http://127.0.0.1:5001/score")
        p.add_argument("--key-env", metavar="NAME", help="environment variable holding the endpoint's key")

    p = sub.add_parser("smoke-test", help="check a live endpoint against the endpoint contract")
    endpoint_flags(p)
    p.add_argument("--deployment", metavar="NAME", help=f"aim at one named deployment ({contract.DEPLOYMENT_HEADER} header)")
    p.add_argument("--expect-version", metavar="V", help="fail unless the endpoint serves model version V")
    p.add_argument("--train-end", metavar="YYYY-MM-DD", help="fail unless the forecast starts the day after this")
    p.add_argument("--require-interval", action="store_true", help="fail unless the endpoint offers intervals")
    p.set_defaults(func=cmd_smoke_test)

    p = sub.add_parser("report", help="the analyst's HTML forecast report, scored through the endpoint")
    endpoint_flags(p)
    p.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--steps", type=int, default=30, help="days to forecast (default 30)")
    p.add_argument("--data", metavar="PATH", help="a TransactionHistory file whose recent actuals the chart shows")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("ui", help="the MLflow UI on a workspace folder (Ctrl+C stops it and its workers)")
    p.add_argument("--workspace", default=settings.WORKSPACE.default,
                   help=f"the workspace folder (default {settings.WORKSPACE.default})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 lets your coach's grader in")
    p.add_argument("--port", type=int, default=ui.PORT, help=f"port to listen on (default {ui.PORT})")
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, lambda args: f"wth {args.command}")

