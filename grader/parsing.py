"""Python source parsed from several threads at once: the checks of teams graded in parallel parse
team code, and CPython 3.11's `ast.parse` keeps its recursion depth in state shared by the threads,
so a thread switch in the middle of one parse (a garbage collection running a finalizer) fails
another with `SystemError: AST constructor recursion depth mismatch` (CPython gh-106905). One parse
at a time: parsing is a small part of a check, and a lock costs nothing next to a process pool.
"""

from __future__ import annotations

import ast
import threading

_ONE_AT_A_TIME = threading.Lock()


def parse(source: str) -> ast.Module:
    """`ast.parse(source)`, never beside another thread's."""
    with _ONE_AT_A_TIME:
        return ast.parse(source)
