"""A team's own tests run in a subprocess: once per data file, each run in a fresh copy of the repository
(never in the team's clone) with a fresh HOME, under a sandbox of its own (`grader.sandbox`) when there is
one, within a time budget (past it, what runs is killed), with a clean environment (only PATH/locale
variables and `WTH_DATA_FILE`, never the coach's secrets); a run's verdict is the exit status the grader
waits for, and every stream and file of team code is read with a cap (the numbers: `grader.sandbox.limits`).

The time limit is the team's own time, not the grading machine's: the grader watches each run's
process tree, and the time its processes waited for a CPU (ready to run, not running) moves the
session's time limit on, up to `cpu_wait_share` of it more (`_Clock`). A session that waited longer than
that while other processes than the team's kept the machine busy (`others_share` of its CPU time or more)
and ran out of time says so (`PytestRun.contended`): its time says nothing of the team's tests. Tests that
sleep or wait for something else are not ready to run: their time limit stays theirs.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import selectors
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from wth import settings
from wth.processes import popen, stop_tree
from wth.store import DB_FILE

from .. import sandbox
from ..not_gradable import RESOURCE_ERRNOS, NotGradable
from ..sandbox.limits import LIMITS
from .repo import SKIP_DIRS

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")  # nothing else leaves the grader's environment
NOT_COPIED = tuple(sorted(SKIP_DIRS - {"site-packages", "build", "dist"}))  # a team's tests may need those
SCRATCH_RUN = "wth-run"  # each run's working copy, in its scratch folder
THREADS = {name: str(LIMITS.threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "--color=no", "-x"]
KIT_TOOLS = "tools"  # where the student kit puts the tools (`wth`, `grader`) that a team installs with `pip install -e`


@dataclass
class PytestRun:
    returncode: int | None  # None: no exit code (killed at the time limit, never started, or its preparation failed)
    seconds: float
    output: str  # the tail of stdout+stderr (`output_tail_kb` at most)
    summary: str  # pytest's last line, e.g. "3 passed in 0.5s"
    sandbox: str | None  # what contained the run; None: not sandboxed
    timed_out: bool = False  # killed at the time limit
    contended: str | None = None  # how the grading machine starved it (its time says nothing of the team's tests)

    @property
    def first_error(self) -> str:
        """The first error line of the output: pytest's first `E   ...` line, else the first naming an error."""
        lines = [line.strip() for line in self.output.splitlines()]
        found = next((line[1:].strip() for line in lines if line.startswith("E ")), None)
        return found or next((line for line in lines if re.search(r"\w(Error|Exception)\b|^bwrap: ", line)), "")


def python_for(root: Path, configured: str | None) -> str:
    if configured:
        return configured
    for candidate in (root / ".venv" / "bin" / "python", root / "venv" / "bin" / "python"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


class Tail:
    """The last `output_tail_kb` of a stream, read up to `cap` bytes."""

    def __init__(self, cap: int = LIMITS.output_read_mb << 20, keep: int = LIMITS.output_tail_kb << 10):
        self.cap, self.keep, self.read, self.data = cap, keep, 0, bytearray()

    def add(self, chunk: bytes) -> bool:
        """Keeps `chunk`'s end; False once `cap` bytes were read (read no more)."""
        self.read += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.keep:
            del self.data[:-self.keep]
        return self.read < self.cap

    def text(self) -> str:
        text = bytes(self.data[-self.keep:]).decode("utf-8", errors="replace")
        return text + (f"[the output went on past {self.cap >> 20} MB: the grader stopped reading it]\n"
                       if self.read >= self.cap else "")


def _drain(process: subprocess.Popen, streams: dict[int, Tail], deadline: Callable[[], float],
           enough: Callable[[], bool] = lambda: False) -> None:
    """Reads every stream into its tail until all are closed, `deadline` passes, the process ended
    a moment ago (what it left running may hold a stream open), or `enough` says so."""
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        ended = None
        while selector.get_map():
            now = time.monotonic()
            if process.poll() is not None:
                ended = ended or now
            if now >= deadline() or (ended and now - ended > LIMITS.drain_s) or enough():
                break
            for key, _ in selector.select(timeout=min(0.5, deadline() - now)):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk or not streams[key.fd].add(chunk):
                    selector.unregister(key.fd)
                    os.close(key.fd)
        for key in list(selector.get_map().values()):
            os.close(key.fd)


def _copy(source: Path, target: Path) -> str:
    """The repository without its clone and venv folders (NOT_COPIED), without sockets, pipes or devices,
    and within `copy_mb` and `copy_files` (what goes past them is left out); says what was left out."""
    budget, left_out = {"bytes": LIMITS.copy_mb << 20, "files": LIMITS.copy_files}, []

    def ignore(folder: str, names: list[str]) -> list[str]:
        out = []
        for name in names:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                out.append(name)
                continue
            kind = info.st_mode
            size = info.st_size if stat.S_ISREG(kind) else 0
            if name in NOT_COPIED or not (stat.S_ISREG(kind) or stat.S_ISDIR(kind) or stat.S_ISLNK(kind)):
                out.append(name)
            elif budget["files"] <= 0 or size > budget["bytes"]:
                out.append(name)
                left_out.append(os.path.relpath(os.path.join(folder, name), source))
            else:
                budget["files"] -= 1
                budget["bytes"] -= size
        return out

    try:
        shutil.copytree(source, target, symlinks=True, ignore=ignore)
    except shutil.Error:
        pass  # files the grader cannot read stay out of the copy
    if not left_out:
        return ""
    return (f"[the grader left {len(left_out)} path(s) of the repository out of the copy its tests run in, past "
            f"{LIMITS.copy_mb} MB or {LIMITS.copy_files} files: {', '.join(left_out[:5])}]\n")


def _env(home: str, tmp: str, data: str | None, python: str) -> dict[str, str]:
    """The run's whole environment. Under the grader's own interpreter (a clone without a venv: every team
    graded by git URL) no pytest plugin loads by itself: the grader's (its tools': xdist, schemathesis...)
    are not the team's, and they took nine tenths of each run's start; a team's pytest.ini may still load
    one with `-p NAME`. And the repository's own `tools/` comes first on sys.path: on the team's laptop
    `pip install -e ./tools` made `wth` importable, and in the sandbox the coach's is not shown."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(HOME=home, TMPDIR=tmp, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", MPLBACKEND="Agg",
               MLFLOW_TRACKING_URI=f"sqlite:///{home}/{DB_FILE}", **THREADS, **({settings.DATA_FILE.name: data} if data else {}),
               **({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": KIT_TOOLS} if python == sys.executable else {}))
    return env


def _run(code: int | None, seconds: float, output: str, sandbox_: str | None, timed_out: bool = False,
         contended: str | None = None) -> PytestRun:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return PytestRun(code, seconds, output, lines[-1] if lines else "", sandbox_, timed_out, contended)


def run_pytest(root: Path, python: str, data_files: dict[str, str | None], timeout: float,
               hide: Iterable[str | Path] = (), gate: str | None = None) -> dict[str, PytestRun]:
    """The team's tests once per data file, in a random order, each in a fresh copy of `root` with a fresh
    HOME and scratch folder, sandboxed when this machine can (`hide`: folders never shown, even inside
    the interpreter's), all within `timeout` seconds: a run still going then is killed, and the runs
    after it do not start (returncode None). Nor do they once the `gate` run fails: a suite that fails
    on good data says nothing about bad data. The time limit moves on by the time the runs waited for a
    CPU (`_Clock`). Results in `data_files`' order."""
    clock = _Clock(timeout)
    order = list(data_files)
    random.SystemRandom().shuffle(order)
    with tempfile.TemporaryDirectory(prefix="wth-grader-pytest-") as scratch:
        scratch = Path(scratch)
        copy = scratch / "src"
        note = _copy(Path(root), copy)
        box = sandbox.jail(python, root, copy, hide) if sandbox.status().available else None
        runs, gated = {}, False
        for label in order:
            if gated or clock.left() <= 0:  # never started: the gate failed, or no time was left
                runs[label] = _run(None, 0.0, "", box and box.describe(clock.cpu_limit()), timed_out=not gated,
                                   contended=None if gated else clock.contended())
                continue
            one = _contained if box else _direct
            runs[label] = one(box, Path(root), copy, python, data_files[label], clock, scratch)
            runs[label].output = note + runs[label].output
            gated = label == gate and runs[label].returncode != 0 and not runs[label].timed_out
    return {label: runs[label] for label in data_files}


def _contained(box: sandbox.Jail, root: Path, copy: Path, python: str, data: str | None, clock: _Clock,
               scratch: Path) -> PytestRun:
    """One run in a sandbox of its own (`grader/sandbox/prepare.py` prepares it, then pytest)."""
    cpu_s = clock.cpu_limit(time.monotonic())
    inside = f"{sandbox.DATA}/{secrets.token_hex(8)}/{Path(data).name}" if data else None
    spec = {"limits": sandbox.rlimits(cpu_s), "source": os.path.abspath(root), "skip": box.skip, "python": str(python),
            "work": f"{sandbox.SCRATCH}/{SCRATCH_RUN}"}
    env = _env(f"{sandbox.SCRATCH}/home", sandbox.SCRATCH, inside, python)
    with tempfile.TemporaryDirectory(prefix="wth-grader-stage-") as stage:
        ready_r, ready_w = os.pipe()
        try:
            spec["ready"] = ready_w
            bound = (Path(data), inside) if data and Path(data).is_file() else None
            cmd = box.command([json.dumps(spec), *PYTEST_ARGS], Path(stage), bound)
        except BaseException:
            os.close(ready_r)
            os.close(ready_w)
            raise
        return _wait(cmd, "/", env, clock, box.describe(cpu_s), ready=(ready_r, ready_w))


def _direct(box: None, root: Path, copy: Path, python: str, data: str | None, clock: _Clock,
            scratch: Path) -> PytestRun:
    """One run unsandboxed: a fresh copy, HOME and temporary folder of its own, then pytest."""
    run = scratch / f"run-{secrets.token_hex(4)}"
    _copy(copy, run / SCRATCH_RUN)
    (run / "home").mkdir()
    try:
        return _wait([python, "-m", "pytest", *PYTEST_ARGS], str(run / SCRATCH_RUN),
                     _env(str(run / "home"), str(run), data, python), clock, None)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _wait(cmd: list[str], cwd: str, env: dict, clock: _Clock, described: str | None,
          ready: tuple[int, int] | None = None) -> PytestRun:
    """Runs `cmd` until it ends or `clock`'s deadline passes (then its whole tree is stopped); its exit
    status, when `ready` (a pipe the run's preparation writes to) says team code started."""
    out_r, out_w = os.pipe()
    streams = {out_r: Tail(), **({ready[0]: Tail(cap=1)} if ready else {})}
    started = time.monotonic()
    try:
        process = popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                        pass_fds=[ready[1]] if ready else [])
    except OSError as err:  # the interpreter (or bwrap) cannot be started at all
        for fd in streams:
            os.close(fd)
        if err.errno in RESOURCE_ERRNOS:
            raise NotGradable(f"the grading machine could not start the team's tests: {err.strerror}") from None
        return _run(None, 0.0, f"{type(err).__name__}: {err}", described)
    finally:
        os.close(out_w)
        if ready:
            os.close(ready[1])
    held = clock.watch(_Tree(process.pid))
    _drain(process, streams, clock.deadline, held.over)
    if held.exceeded:
        stop_tree(process.pid, timeout=LIMITS.stop_s)
    try:
        code, timed_out = process.wait(timeout=clock.left()), False
    except subprocess.TimeoutExpired:
        held.sample()  # what the tree got until its time limit, before it is stopped
        stop_tree(process.pid, timeout=LIMITS.stop_s)
        code, timed_out = process.wait(), True
    began = (not ready or streams[ready[0]].read > 0) and not held.exceeded
    note = (f"[stopped: its processes held more than {LIMITS.run_memory_mb} MB of memory together]\n"
            if held.exceeded else "")
    return _run(code if began and not timed_out else None, round(time.monotonic() - started, 2),
                streams[out_r].text() + note, described, timed_out, clock.contended() if timed_out else None)


READY = frozenset({psutil.STATUS_RUNNING, psutil.STATUS_DISK_SLEEP})  # wanting a CPU (or the disk), not waiting


class _Tree:
    """A run's whole process tree, looked at every `poll_s` at most: the memory it holds (the sum of resident
    sizes, and when that passes `run_memory_mb` the sum of proportional ones: a page that forked processes
    share counts once), the CPU time it got (its processes' own, and that of the descendants they reaped)
    and for how long its processes were ready to run."""

    def __init__(self, pid: int):
        self.pid, self.exceeded = pid, False
        self.seen = time.monotonic()
        self.cpu_s = self.ready_s = 0.0

    @property
    def waited(self) -> float:
        """Seconds its processes were ready to run and not running (summed over processes)."""
        return max(0.0, self.ready_s - self.cpu_s)

    def over(self) -> bool:
        """Whether the tree holds more than `run_memory_mb`."""
        if time.monotonic() - self.seen >= LIMITS.poll_s:
            self.sample()
        return self.exceeded

    def sample(self) -> None:
        now = time.monotonic()
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        resident = cpu = ready = 0
        for process in tree:
            try:
                with process.oneshot():
                    resident += process.memory_info().rss
                    times = process.cpu_times()
                    cpu += times.user + times.system + times.children_user + times.children_system
                    ready += process.status() in READY
            except psutil.Error:
                pass
        self.ready_s += ready * (now - self.seen)
        self.cpu_s, self.seen = max(self.cpu_s, cpu), now
        cap = LIMITS.run_memory_mb << 20
        self.exceeded = resident > cap and self._sum(tree, lambda p: _proportional(p.memory_full_info())) > cap

    @staticmethod
    def _sum(tree: list[psutil.Process], size: Callable[[psutil.Process], int]) -> int:
        total = 0
        for process in tree:
            try:
                total += size(process)
            except psutil.Error:
                pass
        return total


class _Clock:
    """A test session's time limit in the team's own time: `timeout` seconds from now, moved on by the time
    its runs' processes waited for a CPU, up to its allowance (`cpu_wait_share` of `timeout`) more. Measures
    the machine meanwhile."""

    def __init__(self, timeout: float):
        self.started, self.timeout = time.monotonic(), timeout
        self.allowance = timeout * LIMITS.cpu_wait_share
        self.machine = psutil.cpu_times()
        self.trees: list[_Tree] = []

    def watch(self, tree: _Tree) -> _Tree:
        self.trees.append(tree)
        return tree

    def waited(self) -> float:
        return sum(tree.waited for tree in self.trees)

    def deadline(self) -> float:
        return self.started + self.timeout + min(self.waited(), self.allowance)

    def left(self) -> float:
        return max(0.0, self.deadline() - time.monotonic())

    def cpu_limit(self, start: float | None = None) -> float:
        """A run's CPU seconds per process (RLIMIT_CPU) when it starts at `start` (the session's start if None): the
        longest the session may still take (its whole allowance spent) and `stop_s`. A backstop: one thread's CPU time
        never passes the wall time, so the deadline stops a run first."""
        return max(0.0, self.started + self.timeout + self.allowance - (start or self.started)) + LIMITS.stop_s

    def contended(self) -> str | None:
        """How the machine starved the session, if it did: its runs waited for a CPU past the allowance while
        other processes used `others_share` of the machine's CPU time or more."""
        wall, waited = time.monotonic() - self.started, self.waited()
        after = psutil.cpu_times()
        spent = {name: getattr(after, name) - getattr(self.machine, name) for name in after._fields
                 if name not in ("guest", "guest_nice")}  # guest time is in user time
        total = sum(spent.values())
        others = (total - spent["idle"] - spent.get("iowait", 0.0) - sum(t.cpu_s for t in self.trees)) / total if total else 0.0
        if waited <= self.allowance or others < LIMITS.others_share:
            return None
        load = "/".join(f"{value:.1f}" for value in psutil.getloadavg())
        return (f"in {wall:.0f} s they got {sum(t.cpu_s for t in self.trees):.1f} s of CPU and waited {waited:.1f} s "
                f"for one; other processes used {others:.0%} of the machine's CPU time, load {load} on "
                f"{psutil.cpu_count()} CPUs")


def _proportional(info) -> int:
    """A process's proportional set size (Linux), else its unique one."""
    return getattr(info, "pss", info.uss)
