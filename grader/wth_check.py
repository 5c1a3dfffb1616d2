"""The `check` command: one team's checks, printed in detail. Its one definition (`add_arguments`, `self_check`)
serves both `wth-grader check` (grader/cli.py, which adds `--require-sandbox`) and the students' `wth check`.

`wth` imports nothing of the grader: `register` is in the `wth.commands` entry-point group (setup.cfg,
and the kit's tools/setup.cfg), which `wth.cli` reads to add the command to its parser. The grader itself
(its checks import MLflow: 2.5 s) is imported only when `check` runs, so `wth smoke-test` and
`wth --help` start at once.
"""

from __future__ import annotations

import argparse


def parse_number(value: str, kind: type, ok, expected: str):
    """`value` as a `kind` for which `ok` holds, else argparse's one-line refusal naming what was expected."""
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not ok(number):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
    return number


def challenge_number(value: str) -> int:
    from .checks import CHALLENGES

    return parse_number(value, int, CHALLENGES.__contains__, f"a challenge number 0..{max(CHALLENGES)}")


def load(config_path: str, require_sandbox: bool = False):
    """The teams file, refused at once when bad (before the heavy imports); with `--require-sandbox`, the
    run is refused too (exit 2, one line) when team code cannot be sandboxed on this machine."""
    from . import sandbox, teams

    cfg = teams.load(config_path)
    found = sandbox.status() if require_sandbox else None
    if found and not found.available:
        raise teams.ConfigError(f"--require-sandbox: team tests cannot be sandboxed on this machine: {found.reason}")
    return cfg


def self_check(config_path: str, team: str, challenge: int | None = None, sandboxed: bool = False) -> int:
    """One team's checks, printed in detail: 0 if all pass."""
    cfg = load(config_path, sandboxed)
    from . import runner
    from . import scoreboard as report

    result = runner.grade(cfg, challenge=challenge, teams=[team])[0]
    print(report.details(result))
    return 0 if all(check.status == "pass" for check in result.results) else 1


def run(args: argparse.Namespace) -> int:
    return self_check(args.config, args.team, args.challenge, getattr(args, "require_sandbox", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `check`, in `wth` and in `wth-grader`."""
    parser.add_argument("--config", required=True, metavar="F", help="the teams file (YAML)")
    parser.add_argument("--team", required=True, metavar="T", help="the team's name in that file")
    parser.add_argument("--challenge", type=challenge_number, metavar="N", help="only challenge N's checks (0..5)")


def register(commands) -> None:
    """Add `check` to the `wth` command's subparsers."""
    p = commands.add_parser("check", help="the grader's checks on your team (the same code as the coach's scoreboard)")
    add_arguments(p)
    p.set_defaults(func=run)
