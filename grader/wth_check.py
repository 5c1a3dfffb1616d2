"""`wth check`: the grader's self-check in the students' `wth` command.

`wth` imports nothing of the grader: `register` is in the `wth.commands` entry-point group (setup.cfg,
and the kit's tools/setup.cfg), which `wth.cli` reads to add the command to its parser. The grader itself
(its checks import MLflow: 2.5 s) is imported only when `check` runs, so `wth smoke-test` and
`wth --help` start at once.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from .cli import self_check

    return self_check(args.config, args.team, args.challenge)


def challenge_number(value: str) -> int:
    from .cli import challenge_number as parse

    return parse(value)


def register(commands) -> None:
    """Add `check` to the `wth` command's subparsers."""
    p = commands.add_parser("check", help="the grader's checks on your team (the same code as the coach's scoreboard)")
    p.add_argument("--config", required=True, help="your teams file (teams.yaml)")
    p.add_argument("--team", required=True, help="your team's name in that file")
    p.add_argument("--challenge", type=challenge_number, metavar="N", help="only challenge N (0..5)")
    p.set_defaults(func=run)
