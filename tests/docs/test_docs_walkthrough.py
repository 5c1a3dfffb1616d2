"""A team in the coach's repository follows Student/Challenge-00.md, then the commands of
Coach/Solution-01.md, as written, and `wth check --challenge N` passes challenges 0 and 1.

The commands are read from the documents' own code blocks (not retyped here), so a doc that drifts
from the tools fails this test. Not literal: the install block (the suite's venv already holds the
tools; tests/kit installs them from the student kit), the long-running MLflow UI (`wth ui`), and the
team's repository, a local `git init` into which the starter project is copied and committed as
step 3 says.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from docs_tools import REPO_ROOT
from walkthrough import blocks, commands, self_check, set_up_workspace
from walkthrough import sh as run_in

pytestmark = pytest.mark.long

BIN = Path(sys.executable).parent


def sh(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_in(script, cwd, BIN)


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("alpha")
    challenge_00 = REPO_ROOT / "Student" / "Challenge-00.md"
    # step 3: a team repository holding the starter project as starter/, committed
    setup = sh(f"git init -q . && cp -r {REPO_ROOT / 'resources' / 'starter'} starter && git add starter "
               "&& git commit -qm 'starter project'", repo)
    assert setup.returncode == 0, setup.stderr
    set_up_workspace(challenge_00, repo, BIN)
    return repo


def grade(repo: Path, challenge: int) -> subprocess.CompletedProcess:
    return self_check(REPO_ROOT / "Student" / f"Challenge-0{challenge}.md", repo, BIN)


def test_challenge_00_followed_literally_passes_its_checks(team_repo):
    result = grade(team_repo, 0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "C0.1" in result.stdout and "C0.2" in result.stdout
    not_yet = grade(team_repo, 2)  # no tests or pipeline yet: the self-check says so with its exit status
    assert not_yet.returncode == 1 and "C2.1" in not_yet.stdout


def test_solution_01_commands_then_pass_challenge_01(team_repo):
    (train_block,) = [b for b in blocks(REPO_ROOT / "Coach" / "Solution-01.md", "bash") if "wth-solution train" in b]
    done = sh(commands(train_block), team_repo)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = grade(team_repo, 1)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("C1.1", "C1.2", "C1.3"):
        assert check in result.stdout
