"""The student kit, built once per session by `make student-kit`'s builder in a fresh clone of this
repository's HEAD (so the kit holds only what is committed, as the coach's would)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from datafiles import REPO_ROOT
from walkthrough import TEAM_GIT

collect_ignore = ["team"]  # the team's own code and tests (tests/kit/team): run by the walkthrough, not here


@dataclass(frozen=True)
class Kit:
    tree: Path
    archive: Path
    printed: str  # what the builder printed


@pytest.fixture(scope="session")
def kit(tmp_path_factory) -> Kit:
    clone = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], cwd=REPO_ROOT,
                   env={**os.environ, **TEAM_GIT}, capture_output=True, timeout=120, check=True)
    out = clone / "dist"
    done = subprocess.run([sys.executable, "kit/build.py", "--out", str(out)], cwd=clone, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return Kit(out / "student-kit", out / "student-kit.zip", done.stdout)
