"""The student kit, built from a clean clone of this repository with real git: what students get,
checked by content (no answer inside), and followed as a team would.

The team's walk-through installs the kit's tools into a fresh venv where the `solution` package cannot
be imported, and follows Student/Challenge-00.md of the kit to a passing `wth check --challenge 0`.
One thing is not literal: the kit's install command (`pip install -e ./tools`) runs with
`--no-deps`, the tools' dependencies coming from this suite's venv as a plain path on sys.path (its .pth files are not processed, so the coach's editable install of `solution`
stays invisible). A full install from the package index takes minutes, too slow for every run;
`pip check` in the fresh venv still checks that every requirement the kit's tools declare is met.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from datafiles import REPO_ROOT
from walkthrough import TEAM_GIT, blocks, self_check, set_up_workspace
from walkthrough import sh as run_in

from solution import forecast

KIT_PATHS = ("README.md", ".gitignore", ".devcontainer/devcontainer.json", "Student/README.md", "Student/images/scoreboard.png",
             *(f"Student/Challenge-0{n}.md" for n in range(6)), "resources/data/TransactionHistory.csv.gz",
             "resources/data/new-data-2014.csv.gz", "resources/data/batch-clean.csv.gz",
             "resources/data/batch-drifted.csv.gz", "resources/starter/train.py",
             "resources/notebooks/challenge-01-time-series.ipynb", "resources/powerbi/Forecast.pq",
             "resources/teams.example.yaml", "tools/setup.cfg", "tools/pyproject.toml", "tools/wth/contract.py",
             "tools/wth/cli.py", "tools/grader/cli.py")
NEVER = ("solution/", "Coach/", ".pipelines/", ".github/", "tests/", "kit/", "bench/")


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **TEAM_GIT}, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> tuple[Path, Path]:
    """`make student-kit`'s builder, run in a fresh clone of this repository's HEAD."""
    clone = tmp_path_factory.mktemp("clone") / "repo"
    git("clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone), cwd=REPO_ROOT)
    out = clone / "dist"
    done = subprocess.run([sys.executable, "kit/build.py", "--out", str(out)], cwd=clone, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "student kit:" in done.stdout
    return out / "student-kit", out / "student-kit.zip"


def files_of(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())


def test_the_kit_holds_what_students_get(kit):
    tree, archive = kit
    names = files_of(tree)
    missing = [path for path in KIT_PATHS if path not in names]
    assert not missing, missing
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(name.removeprefix("student-kit/") for name in zipped.namelist()) == names


def test_the_kit_holds_no_path_of_the_answers(kit):
    tree, _ = kit
    assert not [name for name in files_of(tree) if name.startswith(NEVER) or "__pycache__" in name]


def _reference_definitions() -> set[str]:
    """Names of the functions and classes that the reference's answers to challenges 01 and 04 define
    (training, the candidates, retraining) and the classes of its registered model. Not the entry
    script's `init`/`run`: every team writes those, they are Azure ML's API."""
    names = set()
    for module in ("train.py", "forecast.py", "retrain.py", "model.py"):
        tree = ast.parse((REPO_ROOT / "solution" / module).read_text())
        kinds = ast.ClassDef if module == "model.py" else (ast.FunctionDef, ast.ClassDef)
        names |= {node.name for node in tree.body if isinstance(node, kinds)}
    given = {fit.__name__ for fit in forecast.BASELINES.values()}  # the baselines and the legacy ARIMA are the lesson
    return {name for name in names - given if len(name) > 5}  # not the short verbs everyone defines: run, fit, plot


def test_the_kit_holds_no_answer_by_content(kit):
    """Not the reference candidates' names, not a definition of the reference's functions, not a byte-copy
    of any file of solution/ or Coach/, and the students' documents name neither."""
    tree, _ = kit
    texts = {}
    for name in files_of(tree):
        raw = (tree / name).read_bytes()
        try:
            texts[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
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
    assert not [name for name in files_of(tree) if hashlib.sha256((tree / name).read_bytes()).hexdigest() in answers]
    student_docs = {name: text for name, text in texts.items() if name.startswith(("Student/", "resources/", "README"))}
    named = {name: m.group(0) for name, text in student_docs.items()
             for m in [re.search(r"wth-solution|\bsolution/|\bCoach/", text)] if m}
    assert not named, named


def test_the_kits_links_resolve(kit):
    tree, _ = kit
    broken = []
    for doc in [tree / "README.md", *(tree / "Student").glob("*.md"), *(tree / "resources").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not re.match(r"[a-z]+:", target) and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(tree)} -> {target}")
    assert not broken, broken


# --- a team follows Challenge-00 in the kit -----------------------------------------------------


def fresh_venv(folder: Path) -> Path:
    """A new venv that sees this suite's third-party packages (pip and setuptools among them) as a plain
    path: no .pth file of the suite's venv is processed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=180,
                   capture_output=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "suite-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture(scope="module")
def team(kit, tmp_path_factory) -> tuple[Path, Path]:
    tree, _ = kit
    repo = tmp_path_factory.mktemp("alpha") / "alpha"
    shutil.copytree(tree, repo)
    python = fresh_venv(repo / ".venv")
    (install,) = [b for b in blocks(repo / "Student" / "Challenge-00.md", "bash") if "pip install" in b]
    assert ".venv/bin/python -m pip install -e ./tools" in install
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", "./tools"], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return repo, python


def sh(script: str, repo: Path) -> subprocess.CompletedProcess:
    return run_in(script, repo, repo / ".venv" / "bin")


def test_the_tools_run_without_the_reference_solution(team):
    repo, python = team
    probe = subprocess.run([str(python), "-c", "import wth, grader; print(wth.__file__, grader.__file__);"
                            "import solution"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert probe.returncode != 0 and "No module named 'solution'" in probe.stderr
    assert str(repo / "tools" / "wth") in probe.stdout and str(repo / "tools" / "grader") in probe.stdout
    checked = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    helped = sh("wth --help && wth check --help", repo)
    assert helped.returncode == 0 and "smoke-test" in helped.stdout, helped.stderr


def test_a_team_follows_challenge_00_in_the_kit_and_passes_its_checks(team):
    repo, _ = team
    doc = repo / "Student" / "Challenge-00.md"
    # step 1: the kit is the team's repository; step 3: the starter project copied as starter/ and committed
    setup = sh("git init -q . && cp -r resources/starter starter && git add -A && git commit -qm 'kit + starter'", repo)
    assert setup.returncode == 0, setup.stderr
    set_up_workspace(doc, repo, repo / ".venv" / "bin")
    result = self_check(doc, repo, repo / ".venv" / "bin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "C0.1" in result.stdout and "C0.2" in result.stdout


def test_a_team_s_tests_importing_its_tools_pass_c2_2_in_the_grader_s_sandbox(team):
    """Challenge 02's self-check as the team runs it, with a test importing `wth` (as the notebook does)
    from the editable install of ./tools: the sandbox shows the team's venv and its tools."""
    from grader import sandbox

    found = sandbox.status()
    if not found.available:
        pytest.skip(f"no sandbox on this machine ({found.reason}); .ci/run installs bubblewrap")
    repo, _ = team
    doc = repo / "Student" / "Challenge-00.md"
    if not (repo / "teams.yaml").exists():  # the walk-through above sets it up
        set_up_workspace(doc, repo, repo / ".venv" / "bin")
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_tools.py").write_text("import wth.config\n\n\ndef test_the_tools_import():\n"
                                                  "    assert wth.config.MODEL_NAME\n")
    result = self_check(repo / "Student" / "Challenge-02.md", repo, repo / ".venv" / "bin")
    (line,) = [line for line in result.stdout.splitlines() if "C2.2" in line]
    assert "pass" in line and "not sandboxed" not in line, result.stdout + result.stderr


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
