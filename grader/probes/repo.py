"""A team's repository: its files, its test functions, and its own tests run in a subprocess
(its pipeline definitions: `pipelines.py`).

The tests run in a fresh copy of the repository (never in the team's clone), under the sandbox of
`grader.sandbox` when there is one, within a time budget (past it, what runs is killed), with a clean
environment (only PATH/locale variables and `WTH_DATA_FILE`, never the coach's secrets); their exit
codes come from the runner's own channel, and every stream and file of team code is read with a cap.
"""

from __future__ import annotations

import ast
import json
import os
import re
import selectors
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wth.processes import popen, stop_tree

from .. import sandbox

SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".wth", ".grader", ".pytest_cache",
             "site-packages", "mlruns", ".tox", "build", "dist"}
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")  # nothing else leaves the grader's environment
MAX_FILES = 5000
MAX_TEST_FILE_KB = 1024  # of a test file, the grader parses at most its first MB
NOT_COPIED = tuple(sorted(SKIP_DIRS - {"site-packages", "build", "dist"}))  # a team's tests may need those


def walk(root: Path, suffix: str) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        found += [Path(folder) / f for f in sorted(files) if f.endswith(suffix)]
        if len(found) > MAX_FILES:
            break
    return found


def test_functions(root: Path) -> dict[str, int]:
    """{relative test file: number of test functions} for pytest-style files in the repo."""
    out = {}
    for path in walk(root, ".py"):
        if not (path.name.startswith("test_") or path.name.endswith("_test.py")) or not path.is_file():
            continue  # not a regular file: a pipe would never end
        try:
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(MAX_TEST_FILE_KB << 10).decode("utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            out[str(path.relative_to(root))] = 0
            continue
        count = sum(1 for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"))
        out[str(path.relative_to(root))] = count
    return out


@dataclass
class PytestRun:
    returncode: int | None  # None: no exit code (killed at the time limit, never started, or its runner stopped)
    seconds: float
    output: str  # the tail of stdout+stderr (OUTPUT_TAIL_KB at most)
    summary: str  # pytest's last line, e.g. "3 passed in 0.5s"
    sandbox: str | None  # what contained the run; None: not sandboxed
    timed_out: bool = False  # killed at the time limit

    @property
    def first_error(self) -> str:
        """The first error line of the output: pytest's first `E   ...` line, else the first naming an error."""
        lines = [line.strip() for line in self.output.splitlines()]
        found = next((line[1:].strip() for line in lines if line.startswith("E ")), None)
        return found or next((line for line in lines if re.search(r"\w(Error|Exception)\b|^bwrap: ", line)), "")


OUTPUT_TAIL_KB = 64  # of each run's output, the last 64 KB are kept
OUTPUT_READ_MB = 16  # of each stream of team code, at most 16 MB are read: then the grader closes it
RESULTS_READ = 64 * 1024  # bytes read of the runner's results channel
GRACE_S = 10.0  # past the budget, the grader stops the runner itself (it stops its runs at the budget)
SCRATCH_RUN = "wth-run"  # each run's working copy, in the scratch folder (one at a time)
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}  # teams share the CPUs


def python_for(root: Path, configured: str | None) -> str:
    if configured:
        return configured
    for candidate in (root / ".venv" / "bin" / "python", root / "venv" / "bin" / "python"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


# One interpreter for all of a team's runs: it sets its limits and stops being dumpable (its
# descriptors cannot be opened through procfs nor can it be ptraced: its results channel stays its
# own) before any team code runs, then
# imports site (the venv's .pth files), pytest, numpy and pandas (when the interpreter has them) and
# pytest's plugins (a session on an empty folder) once, freezes all that out of the garbage collector
# (each run's collections skip it: a trivial run 0.08 s, not 0.2 s), then forks one child per data file. Each
# child closes every descriptor but its own output, copies the repository into the scratch folder,
# and runs pytest there with its own WTH_DATA_FILE; the runner waits for it itself and writes its exit
# code to the results descriptor, which no child holds. As the sandbox's PID 1 (signals from inside
# do not reach it) it kills everything a run left behind before the next starts.
ZYGOTE = r"""
import json, os, sys, time
spec, args = json.loads(sys.argv[1]), sys.argv[2:]
deadline = time.monotonic() + spec["timeout"]
def report(entry):
    os.write(spec["results"], (json.dumps(entry) + "\n").encode())
def harden():
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE, 0
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")
    except (ImportError, AttributeError, OSError) as err:
        if os.getpid() == 1:
            report({"label": "*", "code": None, "error": f"the sandbox's runner cannot protect its results: {err!r}"})
            sys.exit(0)
    import resource
    for name, value in (spec["limits"] or {}).items():
        resource.setrlimit(getattr(resource, name), (value, value))
harden()
import site
site.main()
os.makedirs(os.environ["HOME"], exist_ok=True)
try:
    import pytest
except ImportError as err:
    report({"label": "*", "code": 4, "error": f"pytest is not installed: {err}"})
    sys.exit(0)
for name in ("numpy", "pandas"):
    try:
        __import__(name)
    except Exception:
        pass
def warm_up():  # one pytest session on an empty folder: the plugins are imported (and rewritten) once, not per fork
    import tempfile
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        pytest.main([*args, "--collect-only", tempfile.mkdtemp()])
    except Exception:
        pass  # a warm-up only: the runs themselves say what is wrong
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)
def forked(job, held):
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            for fd in held:
                if fd != job["out"]:
                    os.close(fd)
            os.dup2(job["out"], 1)
            os.dup2(job["out"], 2)
            os.close(job["out"])
            os.setpgid(0, 0)
            import shutil
            mounts = set(spec["skip"])
            shutil.copytree(spec["source"], spec["work"], symlinks=True,
                            ignore=lambda folder, names: [n for n in names if os.path.join(folder, n) in mounts])
            os.chdir(spec["work"])
            sys.path[0:0] = [spec["work"]]
            if job["data"]:
                os.environ["WTH_DATA_FILE"] = job["data"]
            code = int(pytest.main(args))
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    return pid
def waited(pid):
    while True:
        done, status = os.waitpid(-1, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status), False
        if done == 0:
            if time.monotonic() > deadline:
                return None, True
            time.sleep(0.02)
def clean_up(pid, running):
    import shutil, signal
    pid1 = os.getpid() == 1  # the sandbox's: every other process in it goes, daemons included
    try:
        os.kill(-1, signal.SIGKILL) if pid1 else os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if running:
        os.waitpid(pid, 0)
    while pid1:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    shutil.rmtree(spec["work"], ignore_errors=True)
warm_up()
import gc
gc.freeze()
held = [spec["results"], *(job["out"] for job in spec["jobs"])]
for job in spec["jobs"]:
    if time.monotonic() >= deadline:  # the start-up took the time
        report({"label": job["label"], "code": None, "seconds": 0, "timed_out": True})
        break
    started = time.monotonic()
    pid = forked(job, held)
    os.close(job["out"])
    held.remove(job["out"])
    code, timed_out = waited(pid)
    clean_up(pid, timed_out)
    report({"label": job["label"], "code": code, "seconds": round(time.monotonic() - started, 2), "timed_out": timed_out})
    if timed_out or (job["label"] == spec["gate"] and code != 0):
        break
"""
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "--color=no", "-x"]


class Tail:
    """The last OUTPUT_TAIL_KB of a stream, read up to `cap` bytes."""

    def __init__(self, cap: int = OUTPUT_READ_MB << 20, keep: int = OUTPUT_TAIL_KB << 10):
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


def tail_of_file(path: Path, keep: int = OUTPUT_TAIL_KB << 10) -> str:
    """The last `keep` bytes of a file, whatever its size."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - keep))
            return handle.read(keep).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _drain(process: subprocess.Popen, streams: dict[int, Tail], deadline: float) -> None:
    """Reads every stream into its tail until all are closed, `deadline` passes, or the process ended
    a moment ago (what it left running may hold a stream open)."""
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        ended = None
        while selector.get_map():
            now = time.monotonic()
            if process.poll() is not None:
                ended = ended or now
            if now >= deadline or (ended and now - ended > 1.0):
                break
            for key, _ in selector.select(timeout=min(0.5, deadline - now)):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk or not streams[key.fd].add(chunk):
                    selector.unregister(key.fd)
                    os.close(key.fd)
        for key in list(selector.get_map().values()):
            os.close(key.fd)


def _copy(source: Path, target: Path) -> None:
    """The repository without its clone and venv folders (NOT_COPIED) and without sockets, pipes or devices."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        out = []
        for name in names:
            try:
                mode = os.lstat(os.path.join(folder, name)).st_mode
            except OSError:
                mode = 0
            if name in NOT_COPIED or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                out.append(name)
        return out

    try:
        shutil.copytree(source, target, symlinks=True, ignore=ignore)
    except shutil.Error:
        pass  # files the grader cannot read stay out of the copy


def _env(home: str, tmp: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(HOME=home, TMPDIR=tmp, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", MPLBACKEND="Agg",
               MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db", **THREADS)
    return env


def _run(code: int | None, seconds: float, output: str, sandbox_: str | None, timed_out: bool = False) -> PytestRun:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return PytestRun(code, seconds, output, lines[-1] if lines else "", sandbox_, timed_out)


def run_pytest(root: Path, python: str, data_files: dict[str, str | None], timeout: float,
               hide: Iterable[str | Path] = (), gate: str | None = None) -> dict[str, PytestRun]:
    """The team's tests once per data file, each in a fresh copy of `root`, sandboxed when this machine
    can (`hide`: folders never shown, even inside the interpreter's), all within `timeout` seconds: a
    run still going then is killed, and the runs after it do not start (returncode None). Nor do they
    when the `gate` run (given first) fails: a suite that fails on good data says nothing about bad data.
    """
    with tempfile.TemporaryDirectory(prefix="wth-grader-pytest-") as scratch:
        scratch = Path(scratch)
        copy = scratch / "src"
        _copy(Path(root), copy)
        if not hasattr(os, "fork"):
            return _spawned(copy, python, data_files, timeout, gate, scratch)
        return _session(Path(root), copy, python, data_files, timeout, hide, gate, scratch)


def _session(root: Path, copy: Path, python: str, data_files: dict[str, str | None], timeout: float,
             hide: Iterable[str | Path], gate: str | None, scratch: Path) -> dict[str, PytestRun]:
    """All runs in one runner (ZYGOTE) under the sandbox, its verdicts on a descriptor of their own."""
    contained = sandbox.status().available
    if contained:
        box = sandbox.jail(python, root, copy, data_files, hide)
        where, data, source, skip = sandbox.SCRATCH, box.data, os.path.abspath(root), box.skip
        described, limits = box.describe(timeout), sandbox.limits(timeout)
    else:
        where, data, source, skip, described, limits = str(scratch), data_files, str(copy), [], None, None
    results, job_pipes, runner_out = os.pipe(), [os.pipe() for _ in data_files], os.pipe()
    jobs = [{"label": label, "data": data.get(label), "out": w} for label, (_, w) in zip(data_files, job_pipes)]
    spec = {"jobs": jobs, "results": results[1], "timeout": timeout, "gate": gate, "limits": limits,
            "source": source, "work": f"{where}/{SCRATCH_RUN}", "skip": skip}
    cmd = [python, "-S", "-c", ZYGOTE, json.dumps(spec), *PYTEST_ARGS]
    streams = {results[0]: Tail(cap=RESULTS_READ), runner_out[0]: Tail(),
               **{r: Tail() for r, _ in job_pipes}}
    writers = [results[1], runner_out[1], *(w for _, w in job_pipes)]
    with tempfile.TemporaryDirectory(prefix="wth-grader-stage-") as stage:
        if contained:
            cmd = box.command(cmd, Path(stage))
        started = time.monotonic()
        try:
            process = popen(cmd, cwd="/" if contained else scratch, env=_env(f"{where}/home", where),
                            stdin=subprocess.DEVNULL, stdout=runner_out[1], stderr=runner_out[1],
                            pass_fds=[results[1], *(w for _, w in job_pipes)])
        except OSError as err:  # the interpreter (or bwrap) cannot be started at all
            for fd in streams:
                os.close(fd)
            return {label: _run(None, 0.0, f"{type(err).__name__}: {err}", described) for label in data_files}
        finally:
            for fd in writers:
                os.close(fd)
        _drain(process, streams, started + timeout + GRACE_S)
        stopped = process.poll() is None  # the runner did not stop its runs at the time limit: the grader does
        if stopped:
            stop_tree(process.pid, timeout=2)
        process.wait()
    elapsed = round(time.monotonic() - started, 2)
    reported = _verdicts(streams[results[0]].text(), set(data_files))
    runner_said = streams[runner_out[0]].text()
    # stopped by the grader, or out of time as it ended (at its CPU limit, say): the first run not reported timed out
    out_of_time = stopped or elapsed >= timeout
    runs, running = {}, next((label for label in data_files if label not in reported), None) if out_of_time else None
    for label, (r, _) in zip(data_files, job_pipes):
        entry = reported.get(label) or reported.get("*")
        output = streams[r].text()
        if not output and (entry or not reported):  # pytest missing, or the runner itself failed: what it said
            output = (entry or {}).get("error") or runner_said
        code = entry.get("code") if entry else None
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        seconds = entry.get("seconds") if entry else None
        seconds = seconds if isinstance(seconds, (int, float)) else (elapsed if streams[r].read or not reported else 0.0)
        timed_out = label == running or bool(entry and entry.get("timed_out") is True)
        runs[label] = _run(code, float(seconds), output, described, timed_out)
    return runs


def _verdicts(text: str, labels: set[str]) -> dict[str, dict]:
    """The runner's lines: one JSON object per run (the first per label), or one for all ("*")."""
    out: dict[str, dict] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (entry.get("label") in labels or entry.get("label") == "*"):
            out.setdefault(entry["label"], entry)
    return out


def _spawned(copy: Path, python: str, data_files: dict[str, str | None], timeout: float, gate: str | None,
             scratch: Path) -> dict[str, PytestRun]:
    """Where there is no fork (Windows): a new interpreter per run, unsandboxed, waited for here."""
    deadline, runs, stop = time.monotonic() + timeout, {}, False
    home, work, out_path = scratch / "home", scratch / SCRATCH_RUN, scratch / "output.txt"
    home.mkdir()
    for label, data in data_files.items():
        remaining = deadline - time.monotonic()
        if stop or remaining <= 0:
            runs[label] = _run(None, 0.0, "", None)
            continue
        _copy(copy, work)
        env = dict(_env(str(home), str(home)), **({"WTH_DATA_FILE": data} if data else {}))
        started, code, timed_out = time.monotonic(), None, False
        with open(out_path, "wb") as out:
            try:
                process = popen([python, "-m", "pytest", *PYTEST_ARGS], cwd=work, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as err:
                out.write(f"{type(err).__name__}: {err}".encode())
                stop = True
            else:
                try:
                    code = process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    stop_tree(process.pid, timeout=2)
                    timed_out = True
        runs[label] = _run(code, round(time.monotonic() - started, 2), tail_of_file(out_path), None, timed_out)
        shutil.rmtree(work, ignore_errors=True)
        stop = stop or timed_out or (label == gate and code != 0)
    return runs
