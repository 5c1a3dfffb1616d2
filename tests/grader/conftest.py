"""Team workspaces and repositories for the grader's tests, each built once per session
(helpers in grader_tools.py)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from grader_tools import build_repo, build_workspace, commit_all, write_batches


@pytest.fixture(scope="session")
def batches(tmp_path_factory) -> dict[str, str]:
    return write_batches(tmp_path_factory.mktemp("batches"))


@pytest.fixture(scope="session")
def full_ws(tmp_path_factory, batches, good_repo):
    """A team after every challenge: build, release, a promoted retrain and its release, drift runs on both
    batches, each made by a CI run of good_repo's HEAD."""
    return build_workspace(tmp_path_factory.mktemp("team-full") / "ws", "full", batches, repo=good_repo)


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, good_repo):
    """A team after challenge 01/02: one build pipeline run by a CI run of good_repo's HEAD, version 1 the champion."""
    return build_workspace(tmp_path_factory.mktemp("team-trained") / "ws", "trained", repo=good_repo)


@pytest.fixture(scope="session")
def empty_ws(tmp_path_factory):
    """A team that created its workspace and nothing else."""
    return build_workspace(tmp_path_factory.mktemp("team-empty") / "ws", "empty")


@pytest.fixture(scope="session")
def good_repo(tmp_path_factory):
    return build_repo(tmp_path_factory.mktemp("repos") / "good", "good")


@pytest.fixture(scope="session")
def lean_repo(tmp_path_factory, good_repo):
    """good_repo's history with its tests removed in a newer commit: it backs the CI runs of full_ws and
    trained_ws, and no check runs its pytest (C2.1 finds no test), for the tests about the workspace."""
    root = tmp_path_factory.mktemp("repos") / "lean"
    subprocess.run(["git", "clone", "-q", str(good_repo), str(root)], check=True)
    shutil.rmtree(root / "tests")
    commit_all(root, "no tests")
    return root


@pytest.fixture(scope="session")
def scripted_ws(tmp_path_factory):
    """Shallow work: a training script's run with a typed-in baseline, registered outside any pipeline."""
    return build_workspace(tmp_path_factory.mktemp("team-scripted") / "ws", "scripted")
