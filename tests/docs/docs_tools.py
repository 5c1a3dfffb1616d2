"""Paths and helpers shared by the documentation tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
PROGRAMS = ("wth-solution", "wth-grader", "wth")
PROGRAM = re.compile(r"(?<![\w./-])(?:wth-solution|wth-grader|wth)(?![\w./-])")  # as a word, not wth/ or wth.x
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "(", ")", "$(", "`"}


def commands_in(script: str) -> list[list[str]]:
    """Every `wth-solution ...` / `wth-grader ...` / `wth ...` command line in a shell snippet, as argv lists
    (program first). Handles `\\` continuations, comments, pipes and `&&` chains."""
    found = []
    for line in re.sub(r"\\\n", " ", script).splitlines():
        if not PROGRAM.search(line):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if os.path.basename(token) in PROGRAMS:
                argv = [os.path.basename(token)]
                for arg in tokens[i + 1 :]:
                    if arg in SHELL_OPERATORS:
                        break
                    argv.append(arg)
                found.append(argv)
    return found


def parse_error(argv: list[str]) -> str | None:
    """None when the real CLI parser accepts `argv`, else argparse's message."""
    if argv[0] == "wth-solution":
        from solution.cli import build_parser
    elif argv[0] == "wth":
        from wth.cli import build_parser
    else:
        from grader.cli import build_parser
    if any(arg in ("-h", "--help") for arg in argv):
        return None
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            build_parser().parse_args(argv[1:])
        except SystemExit as exit_:
            return stderr.getvalue().strip().splitlines()[-1] if exit_.code else None
    return None
