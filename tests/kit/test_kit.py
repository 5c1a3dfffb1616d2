"""The student kit, built from a clean clone of this repository with real git (the `kit` fixture):
what students get, checked by content. No answer inside, nothing named that students do not have,
the layout its README describes, and links that resolve in the kit and after the copies its documents
ask for. tests/kit/test_kit_walkthrough.py follows it as a team."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from datafiles import REPO_ROOT
from walkthrough import block

from grader.probes.pytest_runs import KIT_TOOLS
from solution import forecast

KIT_PATHS = ("README.md", ".gitignore", ".devcontainer/devcontainer.json", "Student/README.md", "Student/images/scoreboard.png",
             *(f"Student/Challenge-0{n}.md" for n in range(6)), "resources/data/TransactionHistory.csv.gz",
             "resources/data/new-data-2014.csv.gz", "resources/data/batch-clean.csv.gz",
             "resources/data/batch-drifted.csv.gz", "resources/starter/train.py",
             "resources/notebooks/challenge-01-time-series.ipynb", "resources/powerbi/Forecast.pq",
             "resources/teams.example.yaml", *(f"{KIT_TOOLS}/{name}" for name in (
                 "setup.cfg", "pyproject.toml", "wth/contract.py", "wth/cli.py", "grader/cli.py")))  # the grader puts
# the repository's KIT_TOOLS on the path of a team's tests run without a venv
NEVER = ("solution/", "Coach/", ".pipelines/", ".github/", "tests/", "kit/", "bench/")
# What students do not have, named as a path, a command or a module: the reference solution and the coach's guide.
NOT_THEIRS = re.compile(r"wth-solution|(?<![\w./-])solution/|(?<![\w./-])Coach/|`solution`|\b(?:import|from) solution\b")


def files_of(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())


def texts_of(tree: Path) -> dict[str, str]:
    """Every file of the tree that is UTF-8 text, by its path in the tree."""
    texts = {}
    for name in files_of(tree):
        try:
            texts[name] = (tree / name).read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def test_the_kit_holds_what_students_get(kit):
    names = files_of(kit.tree)
    missing = [path for path in KIT_PATHS if path not in names]
    assert not missing, missing
    with zipfile.ZipFile(kit.archive) as zipped:
        assert sorted(name.removeprefix("student-kit/") for name in zipped.namelist()) == names


def test_the_zip_unpacks_where_the_readme_and_challenge_00_say(kit):
    with zipfile.ZipFile(kit.archive) as zipped:
        (top,) = {name.split("/")[0] for name in zipped.namelist()}
    said = f"`{kit.archive.name}` unpacks into `{top}/`"
    assert said in " ".join((kit.tree / "README.md").read_text().split())
    challenge_00 = kit.tree / "Student" / "Challenge-00.md"
    assert f"The zip unpacks into a folder `{top}/`" in " ".join(challenge_00.read_text().split())
    assert f"cd {top}\n" in block(challenge_00, f"unzip {kit.archive.name}")


def test_the_builder_prints_what_it_built_and_make_runs_no_install(kit):
    """`make student-kit` runs the builder alone (standard library and git: no venv, no pip output), and
    the builder says what it wrote: the number of files, the tree, the zip, its size."""
    lines = kit.printed.splitlines()
    assert lines[0] == f"student kit: {len(files_of(kit.tree))} files"
    assert lines[1].split()[0] == f"{kit.tree}{os.sep}"
    size = f"{kit.archive.stat().st_size / 1e6:.1f} MB"
    assert lines[2].startswith(f"  {kit.archive}  {size},") and len(lines) == 3
    if shutil.which("make") is None:
        pytest.skip("make is not installed: the Makefile's student-kit rule cannot be dry-run here")
    clone = kit.tree.parent.parent
    # as a coach types it: outside `make test`, whose MAKELEVEL would make the dry run print directory lines
    outside_make = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    planned = subprocess.run(["make", "-n", "student-kit"], cwd=clone, env=outside_make, capture_output=True,
                             text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert [shlex.split(line)[1:] for line in planned.stdout.splitlines()] == [["kit/build.py", "--out", "dist"]]


def test_the_kit_holds_no_path_of_the_answers(kit):
    assert not [name for name in files_of(kit.tree) if name.startswith(NEVER) or "__pycache__" in name]


def _reference_definitions() -> set[str]:
    """Names of the functions and classes that the reference's answers to challenges 01 and 04 define
    (training, the candidates, retraining) and the classes of its registered model. Not the entry
    script's `init`/`run`: every team writes those, they are Azure ML's API."""
    names = set()
    for module in ("train.py", "forecast.py", "retrain.py", "model_code.py"):
        tree = ast.parse((REPO_ROOT / "solution" / module).read_text())
        kinds = ast.ClassDef if module == "model_code.py" else (ast.FunctionDef, ast.ClassDef)
        names |= {node.name for node in tree.body if isinstance(node, kinds)}
    given = {fit.__name__ for fit in forecast.BASELINES.values()}  # the baselines and the legacy ARIMA are the lesson
    given.add("add_arguments")  # a command's options, argparse's idiom: the kit's own commands define it too
    return {name for name in names - given if len(name) > 5}  # not the short verbs everyone defines: run, fit, plot


def test_the_kit_holds_no_answer_by_content(kit):
    """Not the reference candidates' names, not a definition of the reference's functions, not a byte-copy
    of any file of solution/ or Coach/."""
    texts = texts_of(kit.tree)
    assert len(texts) > 40
    candidates = re.compile(r"\b(" + "|".join(map(re.escape, forecast.CANDIDATES)) + r")\b")
    assert not {name: candidates.findall(text) for name, text in texts.items() if candidates.search(text)}
    definitions = re.compile(r"^\s*(def|class) (" + "|".join(map(re.escape, _reference_definitions())) + r")\b", re.M)
    code = {name: text for name, text in texts.items() if name.endswith(".py")}
    code |= {name: "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
             for name, text in texts.items() if name.endswith(".ipynb")}
    found = {name: m.group(2) for name, text in code.items() for m in [definitions.search(text)] if m}
    assert not found, found
    answers = {hashlib.sha256(p.read_bytes()).hexdigest() for folder in ("solution", "Coach")
               for p in (REPO_ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.stat().st_size > 100}  # not an empty __init__.py
    assert not [name for name in files_of(kit.tree) if hashlib.sha256((kit.tree / name).read_bytes()).hexdigest() in answers]


def test_no_file_of_the_kit_names_what_students_do_not_have(kit):
    """Code, docstrings, READMEs, notebooks, YAML: none names `wth-solution`, `solution/` or `Coach/` (as a
    path or a command) or the `solution` package, which the kit never holds."""
    named = {name: sorted({m.group(0) for m in NOT_THEIRS.finditer(text)}) for name, text in texts_of(kit.tree).items()
             if NOT_THEIRS.search(text)}
    assert not named, named


def copies_asked_for(challenge_00: Path) -> list[tuple[str, str]]:
    """The `cp -r SOURCE TARGET` of Challenge 00's blocks: the folders a team copies within its repository."""
    return [tuple(shlex.split(line, comments=True)[2:4]) for code in re.findall(r"```bash\n(.*?)```", challenge_00.read_text(), re.S)
            for line in code.splitlines() if line.strip().startswith("cp -r ")]


def test_the_kits_links_resolve_in_the_kit_and_after_the_copies_its_documents_ask_for(kit, tmp_path):
    """Every relative link of every Markdown file resolves to a file inside the team's repository: in the
    kit as built, and in the copies Challenge 00 makes (the starter project, as starter/)."""
    repo = tmp_path.resolve() / "repo"
    shutil.copytree(kit.tree, repo)
    copies = copies_asked_for(repo / "Student" / "Challenge-00.md")
    assert ("resources/starter", "starter") in copies
    for source, target in copies:
        shutil.copytree(repo / source, repo / target)
    broken = []
    for doc in sorted(repo.rglob("*.md")):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            resolved = (doc.parent / target).resolve()
            if not re.match(r"[a-z]+:", target) and not (resolved.is_relative_to(repo) and resolved.exists()):
                broken.append(f"{doc.relative_to(repo)} -> {target}")
    assert not broken, broken


def test_the_students_packages_never_import_the_reference_solution():
    """What the kit ships (wth, grader) imports `solution` nowhere, not even lazily inside a function."""
    importing = []
    for package in ("wth", "grader"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                importing += [f"{path.relative_to(REPO_ROOT)}: {m}" for m in modules if m.split(".")[0] == "solution"]
    assert not importing, importing
