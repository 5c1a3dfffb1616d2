"""`wth check`: the grader's self-check in the students' `wth` command.

`wth` imports nothing of the grader: `register` is in the `wth.commands` entry-point group (setup.cfg,
and the kit's tools/setup.cfg), which `wth.cli` reads to add the command to its parser.
"""

from __future__ import annotations

import argparse

from .cli import challenge_number, self_check


def run(args: argparse.Namespace) -> int:
    return self_check(args.config, args.team, args.challenge)


def register(commands) -> None:
    """Add `check` to the `wth` command's subparsers."""
    p = commands.add_parser("check", help="the grader's checks on your team (the same code as the coach's scoreboard)")
    p.add_argument("--config", required=True, help="your teams file (teams.yaml)")
    p.add_argument("--team", required=True, help="your team's name in that file")
    p.add_argument("--challenge", type=challenge_number, metavar="N", help="only challenge N (0..5)")
    p.set_defaults(func=run)
