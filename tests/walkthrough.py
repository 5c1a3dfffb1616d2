"""Following a document as a student does: its code blocks, run in bash from a team's folder."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TEAM_GIT = {"GIT_AUTHOR_NAME": "alpha", "GIT_AUTHOR_EMAIL": "alpha@example.com",
            "GIT_COMMITTER_NAME": "alpha", "GIT_COMMITTER_EMAIL": "alpha@example.com"}


def blocks(doc: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(), flags=re.DOTALL)


def commands(block: str) -> str:
    """A bash block without the lines that start a server and never return."""
    return "\n".join(line for line in block.splitlines() if not line.strip().startswith("wth ui"))


def sh(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    """`script` under `bash -euo pipefail` in `cwd`, `bin_dir` first on PATH (no other venv active)."""
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(TEAM_GIT, PATH=f"{bin_dir}{os.pathsep}{env['PATH']}")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def set_up_workspace(doc: Path, repo: Path, bin_dir: Path) -> None:
    """Challenge 00's step 5, offline (the workspace; the MLflow UI line blocks, so it is left out), and
    step 6 (the teams file, as shown), in the team's `repo`."""
    (workspace_block,) = [b for b in blocks(doc, "bash") if "mkdir -p .wth" in b]
    done = sh(commands(workspace_block), repo, bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    (teams,) = [b for b in blocks(doc, "yaml") if "teams:" in b]
    (repo / "teams.yaml").write_text(teams)


def self_check(doc: Path, repo: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    """The `wth check` block of a challenge, run as team alpha."""
    (check,) = [b for b in blocks(doc, "bash") if "wth check" in b]
    return sh(commands(check).replace('"$TEAM"', "alpha"), repo, bin_dir)
