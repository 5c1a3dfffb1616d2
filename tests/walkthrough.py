"""Following a document as a student does: its code blocks, run in bash from a team's folder."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

TEAM_GIT = {"GIT_AUTHOR_NAME": "alpha", "GIT_AUTHOR_EMAIL": "alpha@example.com",
            "GIT_COMMITTER_NAME": "alpha", "GIT_COMMITTER_EMAIL": "alpha@example.com"}
OUTSIDE = ("VIRTUAL_ENV", "PYTHONPATH")  # another environment's: a team's shell has neither
OUTSIDE_PREFIXES = ("MLFLOW_", "WTH_")  # this suite's settings: a team starts without them


def blocks(doc: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(), flags=re.DOTALL)


def block(doc: Path, holding: str, language: str = "bash") -> str:
    """The one `language` block of `doc` that holds `holding`."""
    (found,) = [b for b in blocks(doc, language) if holding in b]
    return found


def commands(block: str) -> str:
    """A bash block without the lines that start a server and never return."""
    return "\n".join(line for line in block.splitlines() if not line.strip().startswith("wth ui"))


def sh(script: str, cwd: Path, bin_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`script` under `bash -euo pipefail` in `cwd`, `bin_dir` first on PATH (no other venv active), `env` on top."""
    clean = {key: value for key, value in os.environ.items()
             if key not in OUTSIDE and not key.startswith(OUTSIDE_PREFIXES)}
    clean.update(TEAM_GIT, PATH=f"{bin_dir}{os.pathsep}{clean['PATH']}", **(env or {}))
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=600)


def set_up_workspace(doc: Path, repo: Path, bin_dir: Path, env: dict[str, str] | None = None,
                     local: Callable[[str], str] = str) -> None:
    """Challenge 00's step 5, offline (the workspace; the MLflow UI line blocks, so it is left out), and
    step 6 (the teams file, as shown, passed through `local`), in the team's `repo`."""
    done = sh(commands(block(doc, "mkdir -p .wth")), repo, bin_dir, env)
    assert done.returncode == 0, done.stdout + done.stderr
    (repo / "teams.yaml").write_text(local(block(doc, "teams:", "yaml")))


def self_check(doc: Path, repo: Path, bin_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The `wth check` block of a challenge, run as team alpha."""
    return sh(commands(block(doc, "wth check")).replace('"$TEAM"', "alpha"), repo, bin_dir, env)
