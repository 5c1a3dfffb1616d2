"""What a check sees: one team's probes, created lazily and cached for one grading pass.

`Session` holds what all teams share in one grading pass (the test data files, the published drift
batches' fingerprints, the training series C1.2 recomputes baselines on, the test slots); `TeamContext` holds one
team's probes and answers worth sharing between checks (the endpoint's forecast is fetched once and
used by C3.2, C3.4, C3.5, C4.4; the team's tests run in one session for C2.2 and C2.3).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psutil

from . import backtest
from .cached_property import cached_property
from .not_gradable import NotGradable
from .probes.ci import CiProbe
from .probes.devops import DevOpsProbe
from .probes.endpoint import Answer, EndpointProbe
from .probes.mlflow import MlflowProbe
from .probes.pytest_runs import PytestRun, python_for, run_pytest
from .redaction import redact
from .sandbox.limits import LIMITS
from .teams import Config, Team
from .testdata import DataFiles

LOG_FILE = "grader.log"  # in the grader folder: tracebacks of checks that crashed (grader bugs)


def test_slots() -> int:
    """How many teams' test sessions run at once: one per CPU (a session runs one process at a time, each
    single-threaded: `threads`), and no more than the available memory holds at `run_memory_mb` each."""
    memory = psutil.virtual_memory().available // (LIMITS.run_memory_mb << 20)
    return max(1, min(psutil.cpu_count() or 1, memory))


class Session:
    def __init__(self, config: Config):
        self.config = config
        self.data_files = DataFiles(config.data_file)
        self._batches: dict[str, str] | None = None
        self._known: dict[str, str] | None = None
        self._series: dict[tuple, tuple[threading.Lock, list]] = {}
        self._lock = threading.Lock()
        self.test_slots = threading.BoundedSemaphore(test_slots())

    def batch_sha256(self) -> dict[str, str]:
        """{"clean": sha256, "drifted": sha256} of the published drift batches (C5.1, C5.2)."""
        with self._lock:
            if self._batches is None:
                from wth.config import bundled_data
                from wth.workspace_contract import BATCH_FILES

                paths = {**{kind: str(bundled_data() / name) for kind, name in BATCH_FILES.items()},
                         **self.config.drift_batches}
                out = {}
                for kind, path in paths.items():
                    try:
                        out[kind] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                    except OSError:
                        raise NotGradable(f"the published {kind} batch {path} is missing (teams file: drift_batches.{kind})") from None
                self._batches = out
            return self._batches

    @cached_property
    def hidden(self) -> list[str]:
        """Folders a team's sandboxed tests never see: every team's repository and local workspace, the grader's."""
        out = [str(self.config.grader_dir)]
        for team in self.config.teams:
            if team.repo and team.repo.path:
                out.append(str(team.repo.path))
            if team.workspace.kind in ("folder", "sqlite"):
                path = Path(team.workspace.location)
                out.append(str(path if team.workspace.kind == "folder" else path.parent))
        return out

    def known_data(self) -> dict[str, str]:
        """{sha256: path} of the data files the grader holds (the bundled data, the coach's data_file):
        C1.2 finds a run's training data by its data_sha256 when its recorded path is on another machine."""
        with self._lock:
            if self._known is None:
                from wth.data import bundled_file, sha256_of

                paths = [p for p in (bundled_file(), self.config.data_file) if p and Path(p).is_file()]
                self._known = {sha256_of(Path(p)): str(p) for p in paths}
            return self._known

    def recorded_series(self, path: Path, start: str, end: str) -> pd.Series:
        """`backtest.recorded_series`, read once per file (as it is now) and window in a pass: at an
        event most teams train on the same data, and reading it is most of C1.2's time."""
        try:
            stat = path.stat()
        except OSError:
            return backtest.recorded_series(path, start, end)  # says why it cannot be read
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, start, end)
        with self._lock:
            lock, box = self._series.setdefault(key, (threading.Lock(), []))
        with lock:  # the other teams on this file wait for the first read instead of repeating it
            if not box:
                box.append(backtest.recorded_series(path, start, end))
            return box[0]

    def clone_dir(self, team: Team) -> Path:
        return self.config.grader_dir / "repos" / team.folder

    def log_crash(self, team: Team, check_id: str, trace: str) -> str:
        """Append a crashed check's traceback (secrets redacted) to the grader's log; returns its path."""
        path = self.config.grader_dir / LOG_FILE
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as log:
                log.write(f"{stamp} {team.name} {check_id} crashed:\n{redact(trace, team.secrets())}\n")
        return str(path)

    def close(self) -> None:
        self.data_files.close()


class TeamContext:
    def __init__(self, team: Team, session: Session):
        self.team, self.session = team, session
        self._answers: dict[int, Answer] = {}
        self._repo: Path | NotGradable | None = None

    @cached_property
    def mlflow(self) -> MlflowProbe:
        return MlflowProbe(self.team.workspace, self.team.experiment, self.team.model)

    @cached_property
    def ci(self) -> CiProbe:
        """The team's CI runs (offline path), checked against its repository (None when it has none)."""
        return CiProbe(self.mlflow, self.repo if self.team.has_repo else None)

    @cached_property
    def endpoint(self) -> EndpointProbe | None:
        if self.team.endpoint is None:
            return None
        budgets = self.team.budgets
        return EndpointProbe(self.team.endpoint, budgets.connect_s, budgets.read_s)

    @cached_property
    def devops(self) -> DevOpsProbe | None:
        if self.team.devops is None:
            return None
        return DevOpsProbe(self.team.devops, self.team.budgets.connect_s, self.team.budgets.read_s)

    @property
    def repo(self) -> Path | None:
        """The team's repository on this machine: its local clone, or `git`'s ref fetched into the
        grader's folder once per grading pass (`NotGradable`, every time asked, when it cannot be)."""
        source = self.team.repo
        if source is None or source.git is None:
            return source and source.path
        if self._repo is None:
            from .probes.git import fetch

            try:
                self._repo = fetch(source, self.session.clone_dir(self.team), self.team.budgets.check_s)
            except NotGradable as err:
                self._repo = err
        if isinstance(self._repo, NotGradable):
            raise NotGradable(str(self._repo))
        return self._repo

    @cached_property
    def python(self) -> str:
        """The interpreter of the team's tests: the teams file's, else the repository's venv, else the grader's."""
        return python_for(self.repo, self.team.python)

    @cached_property
    def test_runs(self) -> dict[str, PytestRun]:
        """The team's tests on the clean data file ("clean", C2.2) and once per corrupted file (C2.3), in a
        random order, each run in a sandbox of its own, all within the team's `pytest_s`."""
        data = self.session.data_files.get()
        return run_pytest(self.repo, self.python, {"clean": data.clean, **data.corrupted}, self.team.budgets.pytest_s,
                          hide=self.session.hidden, gate="clean")

    def forecast(self, steps: int) -> Answer:
        """POST /score {"steps": steps}, once per pass (raises `Unreachable`)."""
        if steps not in self._answers:
            self._answers[steps] = self.endpoint.score({"steps": steps})
        return self._answers[steps]
