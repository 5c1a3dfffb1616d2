"""A team's repository as the grader reads it: its files (never through a link that leaves it) and its
test functions, parsed, never run (running its tests: `pytest_runs.py`; its git history: `git.py`; its
pipeline definitions: `pipelines.py`)."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

from .. import parsing
from ..sandbox.limits import LIMITS

SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".wth", ".grader", ".pytest_cache",
             "site-packages", "mlruns", ".tox", "build", "dist"}


def walk(root: Path, suffix: str) -> list[Path]:
    """The repository's files ending in `suffix`, never through a link that leaves it (another team's file)."""
    found, real = [], Path(os.path.realpath(root))
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        found += [Path(folder) / f for f in sorted(files)
                  if f.endswith(suffix) and Path(os.path.realpath(Path(folder) / f)).is_relative_to(real)]
        if len(found) > LIMITS.repo_files:
            break
    return found


def test_functions(root: Path) -> dict[str, int]:
    """{relative test file: number of test functions} for pytest-style files in the repo."""
    out = {}
    for path in walk(root, ".py"):
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError:
            regular = False
        if not (path.name.startswith("test_") or path.name.endswith("_test.py")) or not regular:
            continue  # not a regular file (a pipe would never end), or one the grader may not read
        try:
            with open(path, "rb") as handle:
                tree = parsing.parse(handle.read(LIMITS.test_file_kb << 10).decode("utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            out[str(path.relative_to(root))] = 0
            continue
        count = sum(1 for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"))
        out[str(path.relative_to(root))] = count
    return out
