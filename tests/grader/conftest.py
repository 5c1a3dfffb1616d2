"""Team workspaces and repositories for the grader's tests, each built once per session
(helpers in grader_tools.py)."""

from __future__ import annotations

import pytest
from grader_tools import build_repo, build_workspace, write_batches


@pytest.fixture(scope="session")
def batches(tmp_path_factory) -> dict[str, str]:
    return write_batches(tmp_path_factory.mktemp("batches"))


@pytest.fixture(scope="session")
def full_ws(tmp_path_factory, batches):
    """A team after every challenge: build, release, a promoted retrain, drift runs on both batches."""
    return build_workspace(tmp_path_factory.mktemp("team-full") / "ws", "full", batches)


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory):
    """A team after challenge 01/02: one build pipeline run, version 1 the champion."""
    return build_workspace(tmp_path_factory.mktemp("team-trained") / "ws", "trained")


@pytest.fixture(scope="session")
def empty_ws(tmp_path_factory):
    """A team that created its workspace and nothing else."""
    return build_workspace(tmp_path_factory.mktemp("team-empty") / "ws", "empty")


@pytest.fixture(scope="session")
def good_repo(tmp_path_factory):
    return build_repo(tmp_path_factory.mktemp("repos") / "good", "good")


@pytest.fixture(scope="session")
def scripted_ws(tmp_path_factory):
    """Shallow work: a training script's run with a typed-in baseline, registered outside any pipeline."""
    return build_workspace(tmp_path_factory.mktemp("team-scripted") / "ws", "scripted")
