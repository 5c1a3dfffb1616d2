"""A team's CI runs on the offline path, as `wth ci` records them in its workspace (experiment
`wth-ci`, one MLflow run per CI run: `wth.ci.records`), checked against its repository.

A record is only the team's word, so it counts only when the repository backs it: its commit is in
the graded ref's history (the clone's, up to `git.HISTORY_DEPTH` commits deep for a git URL) and its
workflow file is in that commit. A run's log is read from its artifact, at most `MAX_LOG_BYTES`.
The pipeline runs a CI run makes (build, release, retrain, drift) carry its number as `build_id`;
an MLflow run tagged `wth.pipeline=...` without one is a script run by hand, not a pipeline run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from wth.ci import records as ci_records
from wth.ci.records import Record
from wth.config import CI_EXPERIMENT

from ..cached_property import cached_property
from ..not_gradable import NotGradable
from .git import GitFailed, git
from .mlflow import MlflowProbe

MAX_LOG_BYTES = 4 * 1024 * 1024
PYTEST_SUMMARY = re.compile(  # pytest's closing line: "N passed[, N skipped...] in Ts", with no failure before it
    r"(?:^|\| |=+ )(\d+ passed(?:, \d+ (?:skipped|deselected|xfailed|xpassed|warnings?))* in [\d.]+s)\b", re.M)
GIT_TIMEOUT_S = 20
MAX_RUNS_LOOKED_AT = 20  # succeeded CI runs a check reads, newest first


@dataclass(frozen=True)
class Verified:
    record: Record
    problem: str | None  # None: the repository backs the record


class CiProbe:
    def __init__(self, mlflow: MlflowProbe, repo: Path | None):
        self.mlflow, self.repo = mlflow, repo
        self._problems: dict[str, str | None] = {}  # run id -> its problem: several checks ask of the same runs

    @cached_property
    def records(self) -> list[Record]:
        """The workspace's CI runs, newest (highest number) first."""
        ids = {e.experiment_id for e in self.mlflow.experiments if e.name == CI_EXPERIMENT}
        found = [Record.of(r) for r in self.mlflow.runs if r.info.experiment_id in ids]
        return sorted(found, key=lambda r: r.number, reverse=True)

    def by_number(self, number: str | None) -> Record | None:
        return next((r for r in self.records if number and str(r.number) == str(number)), None)

    def problem(self, record: Record) -> str | None:
        """Why the repository does not back `record` (None: it does), asked of git once per pass."""
        if record.run_id not in self._problems:
            self._problems[record.run_id] = self._problem(record)
        return self._problems[record.run_id]

    def _problem(self, record: Record) -> str | None:
        if self.repo is None:
            return "no repository configured to check it against"
        if not re.fullmatch(r"[0-9a-f]{40}", record.sha or ""):
            return f"run #{record.number} names no commit"
        if not re.fullmatch(r"\.github/workflows/[\w.-]+\.ya?ml", record.workflow or ""):
            return f"run #{record.number}'s workflow {record.workflow!r} is not a file of .github/workflows/"
        return self._backed(record.sha, record.workflow)

    def _backed(self, sha: str, workflow: str) -> str | None:
        try:
            git(["cat-file", "-e", f"{sha}^{{commit}}"], GIT_TIMEOUT_S, cwd=self.repo)
            git(["merge-base", "--is-ancestor", sha, "HEAD"], GIT_TIMEOUT_S, cwd=self.repo)
        except GitFailed:
            return f"commit {sha[:8]} is not in the history of your repository's graded branch"
        try:
            git(["cat-file", "-e", f"{sha}:{workflow}"], GIT_TIMEOUT_S, cwd=self.repo)
        except GitFailed:
            return f"commit {sha[:8]} has no {workflow}"
        return None

    def same_at_head(self, record: Record) -> bool:
        """Whether the workflow file the run ran is the one the graded commit holds, unchanged."""
        try:
            ran = git(["rev-parse", f"{record.sha}:{record.workflow}"], GIT_TIMEOUT_S, cwd=self.repo).strip()
            now = git(["rev-parse", f"HEAD:{record.workflow}"], GIT_TIMEOUT_S, cwd=self.repo).strip()
        except GitFailed:
            return False
        return ran == now

    def succeeded(self, workflow: str | None = None) -> list[Verified]:
        """The newest MAX_RUNS_LOOKED_AT succeeded runs (of the workflow file `workflow` when given), each with
        its problem."""
        chosen = [r for r in self.records if r.conclusion == "success" and workflow in (None, r.workflow)]
        return [Verified(r, self.problem(r)) for r in chosen[:MAX_RUNS_LOOKED_AT]]

    def backed(self, number: str | None, conclusion: str | None = None) -> Record | None:
        """The CI run `number` (a pipeline run's build_id) when the repository backs it (and it ended so)."""
        record = self.by_number(number)
        if record is None or (conclusion and record.conclusion != conclusion):
            return None
        return record if self.problem(record) is None else None

    def log(self, record: Record) -> str:
        """The run's log, at most MAX_LOG_BYTES of it."""
        try:
            files = {f.path: f for f in self.mlflow.artifact_files(record.run_id, ci_records.LOG_ARTIFACT.rsplit("/", 1)[0])}
        except NotGradable:
            return ""
        found = files.get(ci_records.LOG_ARTIFACT)
        if found is None or not found.file_size or found.file_size > MAX_LOG_BYTES:
            return ""
        return self.mlflow.artifact_text(record.run_id, ci_records.LOG_ARTIFACT, MAX_LOG_BYTES)

    def pytest_summary(self, record: Record) -> str | None:
        """pytest's own closing summary in the run's log ("12 passed in 3.1s"), if a test session passed there."""
        matches = PYTEST_SUMMARY.findall(self.log(record))
        return matches[-1] if matches else None
