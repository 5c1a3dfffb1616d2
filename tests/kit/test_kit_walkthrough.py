"""A team follows the student kit through Challenges 00 to 05 on the offline path, from
dist/student-kit.zip alone, in one team state: the kit's tools installed (editable `tools/`) in a
fresh venv where `solution` cannot be imported, and each challenge's `wth check` block passing.

What runs is read from the kit's own documents (their bash and yaml blocks), so a document that
drifts from the tools fails here. Where the challenges ask for the team's own code (a training
script, tests, pipelines, an entry script, a release, a retraining, a drift check), that code is
`tests/kit/team/`: what a team writes from `Student/`, never part of the kit, added challenge by
challenge (`CHALLENGE_FILES`) and run with the commands its own pipelines run (`COMMANDS`, which a
test holds against the team's pipeline YAML).

Not literal, and why:
- The install (`pip install -e ./tools`) runs with `--no-deps`: the tools' dependencies come from this
  suite's venv as a plain path on sys.path (its .pth files are not processed, so the coach's editable
  install of `solution` stays invisible), and their commands (`azmlinfsrv`, `mlflow`, ...) are written
  into the team's venv as pip would write them. A full install from the package index takes minutes;
  `pip check` still checks that every requirement the tools declare is met.
- The endpoint's port: 5001 in the documents, a free port here (other test runs share the machine).
- `wth ui` serves until stopped: left out. Of the starter README's block only `acquire.py` runs
  (tests/docs/test_docs_starter.py runs the other three scripts, the same files).
- The team's processes get their own HOME and one BLAS thread (the machine's two cores are shared).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from walkthrough import block, self_check, set_up_workspace, sh

from grader.checks import all_checks

TEAM_CODE = Path(__file__).resolve().parent / "team"
CHALLENGE_FILES = {  # what the team adds to its repository, challenge by challenge
    1: ["forecasting/__init__.py", "forecasting/data.py", "forecasting/model.py", "forecasting/pyfunc.py",
        "forecasting/workspace.py", "forecasting/train.py"],
    2: ["forecasting/build.py", "tests/test_data.py", "tests/test_model.py", ".pipelines/build.yml"],
    3: ["score.py", "forecasting/release.py", ".pipelines/release.yml"],
    4: ["forecasting/retrain.py", ".pipelines/retrain.yml"],
    5: ["forecasting/drift.py", ".pipelines/drift.yml"],
}
COMMANDS = {  # what the team runs on its laptop for each challenge (its pipelines run the same; `None`: by hand)
    1: [(None, "python -m forecasting.train --data starter/data/TransactionHistory.csv --train-end 2013-12-31")],
    2: [("build.yml", "python -m forecasting.build --source resources/data/TransactionHistory.csv.gz --train-end 2013-12-31")],
    3: [("release.yml", "python -m forecasting.release --port 5001")],
    4: [("retrain.yml", "python -m forecasting.retrain --new-data resources/data/new-data-2014.csv.gz"),
        ("retrain.yml", "python -m forecasting.release --port 5001")],
    5: [("drift.yml", "python -m forecasting.drift --batch resources/data/batch-clean.csv.gz"
                      " --batch resources/data/batch-drifted.csv.gz")],
}
DOC_BLOCKS = {3: ("wth smoke-test", "wth report")}  # the challenge's own bash blocks, after the team's steps
DOCUMENTED_PORT = "5001"


@dataclass
class Team:
    repo: Path
    python: Path
    port: int
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.python.parent

    def doc(self, name: str) -> Path:
        return self.repo / "Student" / name

    def local(self, text: str) -> str:
        """A document's text with the endpoint on this run's port."""
        return re.sub(rf"\b{DOCUMENTED_PORT}\b", str(self.port), text)

    def run(self, script: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        done = sh(self.local(script), cwd or self.repo, self.bin, self.env)
        assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def check(self, challenge: int) -> subprocess.CompletedProcess:
        return self_check(self.doc(f"Challenge-0{challenge}.md"), self.repo, self.bin, self.env)

    def add(self, challenge: int) -> None:
        """The team's code of `challenge`, committed (the grader reads what is committed)."""
        for name in CHALLENGE_FILES[challenge]:
            (self.repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(TEAM_CODE / name, self.repo / name)
        self.run(f"git add -A && git commit -qm 'challenge 0{challenge}'")

    def follow(self, challenge: int) -> None:
        """The challenge's steps: the team's code added, its commands run, then the challenge's own blocks."""
        self.add(challenge)
        for _, command in COMMANDS[challenge]:
            self.run(command)
        for holding in DOC_BLOCKS.get(challenge, ()):
            self.run(block(self.doc(f"Challenge-0{challenge}.md"), holding))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def requirement_closure(requirements: list[str], path: str) -> list[importlib.metadata.Distribution]:
    """The distributions installed under `path` that `requirements` need, and theirs, and so on."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in importlib.metadata.distributions(path=[path])}
    wanted, seen = [canonicalize_name(Requirement(r).name) for r in requirements], set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for line in installed[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(canonicalize_name(requirement.name))
    return [installed[name] for name in sorted(seen)]


def fresh_venv(folder: Path, tools_cfg: Path) -> Path:
    """A new venv that sees this suite's third-party packages as a plain path (no .pth file of the suite's
    venv is processed), with the commands of the tools' requirements in its bin, as pip writes them."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=180,
                   capture_output=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    suite = sysconfig.get_paths()["purelib"]
    Path(site, "suite-packages.pth").write_text(suite + "\n")
    cfg = ConfigParser()
    cfg.read(tools_cfg)
    for dist in requirement_closure(cfg["options"]["install_requires"].split(), suite):
        for entry in dist.entry_points.select(group="console_scripts"):
            head, _, rest = entry.attr.partition(".")
            call = f"{head}.{rest}" if rest else head
            (python.parent / entry.name).write_text(
                f"#!{python}\nimport sys\nfrom {entry.module} import {head}\nsys.exit({call}())\n")
            (python.parent / entry.name).chmod(0o755)
    return python


def stop_servers(repo: Path) -> None:
    """The inference servers the team's release started (their process ids are in its workspace)."""
    for record in (repo / ".wth").glob("endpoint-*.json"):
        try:
            server = psutil.Process(json.loads(record.read_text())["pid"])
            family = [server, *server.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in family:
            process.terminate()
        for process in psutil.wait_procs(family, timeout=15)[1]:
            process.kill()


@pytest.fixture(scope="module")
def team(kit, tmp_path_factory) -> Team:
    """Challenge 00, steps 1-3 and 5-6, from the zip: unpacked, a Git repository, the tools in .venv,
    the starter project committed as starter/, its data acquired, the workspace and the teams file."""
    folder = tmp_path_factory.mktemp("alpha")
    shutil.copy(kit.archive, folder)
    home = folder / "home"
    home.mkdir()
    doc = kit.tree / "Student" / "Challenge-00.md"
    unzip = block(doc, f"unzip {kit.archive.name}")
    env = {"HOME": str(home), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = sh(unzip, folder, folder, env)  # no venv yet
    assert done.returncode == 0, done.stdout + done.stderr
    repo = folder / re.search(r"^\s*cd (\S+)$", unzip, re.M).group(1)
    python = fresh_venv(repo / ".venv", repo / "tools" / "setup.cfg")
    assert ".venv/bin/python -m pip install -e ./tools" in block(doc, "pip install")
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", "./tools"], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    alpha = Team(repo, python, free_port(), env)
    alpha.run(block(doc, "cp -r resources/starter starter"))
    (acquire,) = [line for line in block(repo / "starter" / "README.md", "acquire.py").splitlines()
                  if line.startswith("python acquire.py")]
    alpha.run(acquire, cwd=repo / "starter")
    set_up_workspace(doc, repo, alpha.bin, env, alpha.local)
    yield alpha
    stop_servers(repo)


def test_the_tools_run_without_the_reference_solution(team):
    probe = subprocess.run([str(team.python), "-c", "import wth, grader; print(wth.__file__, grader.__file__);"
                            "import solution"], cwd=team.repo, capture_output=True, text=True, timeout=120)
    assert probe.returncode != 0 and "No module named 'solution'" in probe.stderr
    assert str(team.repo / "tools" / "wth") in probe.stdout and str(team.repo / "tools" / "grader") in probe.stdout
    assert shutil.which("wth-solution", path=str(team.bin)) is None and shutil.which("azmlinfsrv", path=str(team.bin))
    checked = subprocess.run([str(team.python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    helped = sh("wth --help && wth check --help", team.repo, team.bin, team.env)
    assert helped.returncode == 0 and "smoke-test" in helped.stdout, helped.stderr


def test_the_teams_laptop_commands_are_its_pipelines_commands():
    """What this walkthrough runs for the team is what the team's pipeline definitions run."""
    for challenge, steps in COMMANDS.items():
        for pipeline, command in steps:
            if pipeline:
                text = (TEAM_CODE / ".pipelines" / pipeline).read_text()
                scripts = [node["script"] for node in _walk(yaml.safe_load(text)) if "script" in node]
                assert any(command.split(" --")[0] in script for script in scripts), (challenge, pipeline, command)
                assert any(f".pipelines/{pipeline}" in CHALLENGE_FILES[n] for n in range(1, challenge + 1))


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.fixture(scope="module")
def reach(team):
    """`reach(n)`: the team state after challenge n, each challenge's steps taken once, in order. A step
    that failed fails every later challenge at once instead of being taken again."""
    state = {"done": 0, "failed": None}

    def to(challenge: int) -> Team:
        if state["failed"]:
            pytest.fail(f"challenge 0{state['failed']}'s steps failed (see its test)")
        for step in range(state["done"] + 1, challenge + 1):
            state["failed"] = step
            team.follow(step)
            state["done"], state["failed"] = step, None
        return team

    return to


@pytest.mark.parametrize("challenge", range(6))
def test_the_challenge_passes_its_checks(reach, challenge):
    """The challenge's `wth check` block, after its steps; C2.2 and C2.3 run the team's tests
    sandboxed, in a copy of its repository, with its .venv."""
    result = reach(challenge).check(challenge)
    assert result.returncode == 0, result.stdout + result.stderr
    graded = set(re.findall(rf"\bC{challenge}\.\d+\b", result.stdout))
    assert graded == {c.id for c in all_checks() if c.challenge == challenge}, result.stdout
