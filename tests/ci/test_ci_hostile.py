"""A team's CI records are its word: the grader reads a run's log only from a regular file inside the
team's workspace, and counts a run only on a commit of the repository, whatever the records claim.
Real MLflow stores, real git; the records written as a hostile team would, by hand."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from grader.probes.ci import CiProbe
from grader.probes.mlflow import MlflowProbe
from grader.teams import WorkspaceRef
from wth.ci.records import LOG_ARTIFACT, Records

SUMMARY = "[test]   | 9 passed in 1.00s\n"


def _repo(root: Path) -> tuple[Path, str]:
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "build.yml").write_text("on: push\njobs: {a: {runs-on: x, steps: [{run: x}]}}\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "w"], check=True)
    return root, subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def _record(ws: Path, number: int, sha: str, log: str = SUMMARY, workflow: str = ".github/workflows/build.yml"):
    records = Records(ws)
    record = records.create(number, workflow, "build", "push", sha, "refs/heads/main", {})
    records.log_file(number).parent.mkdir(parents=True, exist_ok=True)
    records.log_file(number).write_text(log)
    records.finish(record, "success", {})
    return record


def _probe(ws: Path, repo: Path | None) -> CiProbe:
    return CiProbe(MlflowProbe(WorkspaceRef.model_validate(str(ws)), "wth-mlops", "transactions-forecast"), repo)


FORGED = {  # run number -> (commit, workflow, why the repository does not back it); None: HEAD
    2: ("f" * 40, ".github/workflows/build.yml", "is not in the history"),
    3: (None, ".github/workflows/nothere.yml", "has no .github/workflows/nothere.yml"),
    4: (None, "../../etc/passwd", "is not a file of .github/workflows/"),
    5: ("HEAD", ".github/workflows/build.yml", "names no commit"),
}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """One repository and one workspace: run #1 honest, #2-#5 forged (FORGED), #6 with its log linked to
    a coach file, #7 with its artifact location moved outside the workspace."""
    root = tmp_path_factory.mktemp("hostile-ci")
    repo, head = _repo(root / "repo")
    ws = root / "ws"
    _record(ws, 1, head)
    for number, (sha, workflow, _) in FORGED.items():
        _record(ws, number, sha or head, workflow=workflow)
    linked, moved = _record(ws, 6, head), _record(ws, 7, head)
    secret = root / "coach-only.txt"
    secret.write_text("COACH-SECRET " + SUMMARY)
    client = _probe(ws, repo).mlflow.client
    stored = Path(client.get_run(linked.run_id).info.artifact_uri.removeprefix("file://")) / LOG_ARTIFACT
    stored.unlink()
    stored.symlink_to(secret)
    elsewhere = root / "elsewhere"
    (elsewhere / "ci").mkdir(parents=True)
    (elsewhere / "ci" / "log.txt").write_text(SUMMARY)
    with sqlite3.connect(ws / "mlflow.db") as db:
        db.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (elsewhere.as_uri(), moved.run_id))
    return repo, ws


def test_an_honest_record_is_backed_and_its_summary_read(team):
    probe = _probe(*reversed(team))
    honest = probe.by_number("1")
    assert probe.problem(honest) is None and probe.pytest_summary(honest) == "9 passed in 1.00s"
    assert probe.backed("1", "success") is not None


def test_a_log_linked_to_a_coach_file_or_kept_outside_the_workspace_is_not_read(team):
    probe = _probe(*reversed(team))
    for number in ("6", "7"):
        record = probe.by_number(number)
        assert probe.problem(record) is None  # the commit is real: only the log is out of bounds
        assert probe.log(record) == "" and probe.pytest_summary(record) is None


def test_a_record_the_repository_does_not_back_does_not_count(team):
    repo, ws = team
    probe, unchecked = _probe(ws, repo), _probe(ws, None)
    for number, (_, _, said) in FORGED.items():
        assert said in probe.problem(probe.by_number(str(number))) and probe.backed(str(number)) is None
    assert unchecked.problem(unchecked.by_number("1")) == "no repository configured to check it against"
