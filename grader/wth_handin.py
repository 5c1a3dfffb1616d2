"""The options of `wth handin` (the students', added to `wth` through the `wth.commands` entry point as
`check` is) and `wth-grader admit`; the work is grader/handin.py's, imported only when one of them runs,
so `wth --help` starts at once."""

from __future__ import annotations

import argparse


def run_handin(args: argparse.Namespace) -> int:
    from .handin import handin

    return handin(args)


def run_admit(args: argparse.Namespace) -> int:
    from .handin import admit

    return admit(args)


def add_admit(commands) -> None:
    """Add `admit` to `wth-grader`'s subparsers."""
    p = commands.add_parser("admit", help="append teams' hand-in entries to the teams file, each checked from here")
    p.add_argument("entries", nargs="*", metavar="ENTRY", help="hand-in entries written by `wth handin`")
    p.add_argument("--config", required=True, metavar="F", help="the teams file to append them to")
    p.add_argument("--pending", action="store_true",
                   help="admit every entry of the hand-in form waiting in <grader_dir>/handins/ as well")
    p.add_argument("--anyway", action="store_true", help="admit an entry even if a part of it does not answer")
    p.set_defaults(func=run_admit)


def register(commands) -> None:
    """Add `handin` to the `wth` command's subparsers."""
    p = commands.add_parser("handin", help="register your team with the coach: check it and write its entry")
    p.add_argument("--name", required=True, help="your team's name, as the scoreboard shows it")
    p.add_argument("--workspace", required=True, metavar="URI", help="your MLflow server as the coach reaches it: "
                   "http://<laptop-address>:5050 (`wth ui --host 0.0.0.0`)")
    p.add_argument("--repo", metavar="URL", help="your repository's git URL (https://, ssh://, git://, file://)")
    p.add_argument("--ref", metavar="BRANCH", help="the branch graded (default: the remote's HEAD)")
    p.add_argument("--token", action="store_true",
                   help="reading the repository needs a token (named <TEAM>_GIT_TOKEN: you give it to the coach)")
    p.add_argument("--endpoint", metavar="URI", help="your scoring URI: http://<laptop-address>:5001/score")
    p.add_argument("--key", action="store_true",
                   help="the endpoint wants a key (named <TEAM>_ENDPOINT_KEY: you give it to the coach)")
    p.add_argument("--tracking-token", action="store_true",
                   help="the MLflow server wants a token (named <TEAM>_TRACKING_TOKEN: you give it to the coach)")
    p.add_argument("--out", default="handin.yaml", metavar="F", help="the entry file to write (default handin.yaml)")
    p.set_defaults(func=run_handin)
