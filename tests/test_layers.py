"""The packages' dependency direction: `wth` is the base, `solution` and `grader` import it and never
each other, and no package has a cycle between its modules or subpackages. The rule is import-linter's
contracts in setup.cfg; these tests run them on the tree and on a copy with planted arrows (a fresh
interpreter, so it imports the copy), and hold docs/architecture.md's package diagram to the imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
from datafiles import REPO_ROOT

PACKAGES = ("wth", "solution", "grader")


LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the packages of `root` (first on the path: a copy wins over the installed tree)."""
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", "--no-logo", "setup.cfg"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract():
    done = lint(REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_a_planted_arrow_breaks_the_contracts(tmp_path):
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO_ROOT / "setup.cfg", tmp_path / "setup.cfg")
    with open(tmp_path / "wth" / "config.py", "a") as config:
        config.write("\nimport grader.cli  # planted\n")
    with open(tmp_path / "grader" / "redaction.py", "a") as redaction:
        redaction.write("\nfrom . import runner  # planted: runner imports redaction\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 kept, 2 broken" in done.stdout
    assert "wth.config -> grader.cli" in done.stdout
    assert "No cycles are allowed in grader" in done.stdout and "- .redaction -> .runner" in done.stdout


def diagram_arrows() -> set[tuple[str, str]]:
    """The `A -- imports --> B` arrows of docs/architecture.md's diagram."""
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    return set(re.findall(r"^\s*(\w+) -- imports --> (\w+)\s*$", text, flags=re.M))


def test_the_architecture_diagram_shows_the_imports_between_the_packages():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    imports = {(a, b) for a in PACKAGES for b in PACKAGES
               if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True)}
    assert imports == diagram_arrows() == {("solution", "wth"), ("grader", "wth")}
