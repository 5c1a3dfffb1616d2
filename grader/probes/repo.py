"""A team's repository: its files, its test functions, and its own tests run in a subprocess
(its pipeline definitions: `pipelines.py`).

The tests run in a fresh copy of the repository (never in the team's clone), under the sandbox of
`grader.sandbox` when there is one, with a timeout (the whole process group is killed past it),
output captured, and a clean environment: only PATH/locale variables and `WTH_DATA_FILE`, never the
coach's secrets.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
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
        if not (path.name.startswith("test_") or path.name.endswith("_test.py")):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            out[str(path.relative_to(root))] = 0
            continue
        count = sum(1 for node in ast.walk(tree)
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"))
        out[str(path.relative_to(root))] = count
    return out


@dataclass
class PytestRun:
    returncode: int | None  # None: killed at the timeout
    seconds: float
    output: str  # the tail of stdout+stderr
    summary: str  # pytest's last line, e.g. "3 passed in 0.5s"
    sandbox: str | None  # what contained the run; None: not sandboxed


def python_for(root: Path, configured: str | None) -> str:
    if configured:
        return configured
    for candidate in (root / ".venv" / "bin" / "python", root / "venv" / "bin" / "python"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


# One interpreter for all of a team's runs: it imports pytest, numpy and pandas (when the team's
# interpreter has them) and pytest's plugins (a session on an empty folder) once, then forks one
# child per data file, each in its own copy of the repository, with its own WTH_DATA_FILE, output
# file and process group. The children's collection imports the team's modules afresh; only the
# start-up is shared.
ZYGOTE = r"""
import json, os, sys, time
jobs, args = json.loads(sys.argv[1]), sys.argv[2:]
try:
    import pytest
except ImportError as err:
    print("WTH-RUN " + json.dumps({"label": "*", "code": 4, "error": f"pytest is not installed: {err}"}), flush=True)
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
def forked(job):  # the team's tests in a fork: pytest and numpy/pandas are imported once for all jobs
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.setpgid(0, 0)
            fd = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(job["cwd"])
            sys.path[0:0] = [job["cwd"]]
            if job["data"]:
                os.environ["WTH_DATA_FILE"] = job["data"]
            code = int(pytest.main(args))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() - started > job["timeout"]:
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)
def spawned(job):  # where there is no fork (Windows): the team's tests in a new interpreter
    import subprocess
    env = dict(os.environ, **({"WTH_DATA_FILE": job["data"]} if job["data"] else {}))
    with open(job["out"], "wb") as out:
        try:
            return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=job["cwd"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=job["timeout"]).returncode
        except subprocess.TimeoutExpired:
            return None
if hasattr(os, "fork"):
    warm_up()
for job in jobs:
    started = time.monotonic()
    code = forked(job) if hasattr(os, "fork") else spawned(job)
    print("WTH-RUN " + json.dumps({"label": job["label"], "code": code, "seconds": round(time.monotonic() - started, 2)}),
          flush=True)
    if job["gate"] and code != 0:
        break
"""
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "--color=no", "-x"]


def run_pytest(root: Path, python: str, data_files: dict[str, str | None], timeout: float,
               hide: Iterable[str | Path] = (), gate: str | None = None) -> dict[str, PytestRun]:
    """The team's tests once per data file, each in a fresh copy of `root`, sandboxed when this machine
    can (`hide`: more folders to empty), all within `timeout` seconds: a run still going then is
    killed, and the runs after it do not start (returncode None). Nor do they when the `gate` run
    (given first) fails: a suite that fails on good data says nothing about bad data.
    """
    contained = sandbox.status()
    runs: dict[str, PytestRun] = {}
    with tempfile.TemporaryDirectory(prefix="wth-grader-pytest-") as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        home.mkdir()
        jobs = []
        for i, (label, data) in enumerate(data_files.items()):
            copy = scratch / f"repo-{i}"
            shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
            jobs.append({"label": label, "data": data, "cwd": str(copy), "out": str(scratch / f"out-{i}.txt"),
                         "timeout": timeout, "gate": label == gate})
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env.update(HOME=str(home), TMPDIR=str(home), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
                   MPLBACKEND="Agg", MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db")
        cmd = [python, "-c", ZYGOTE, json.dumps(jobs), *PYTEST_ARGS]
        if contained.available:
            cmd = sandbox.command(cmd, python=python, workdir=scratch, home=home,
                                  read_only=[d for d in data_files.values() if d], hide=[root, *hide])
        started = time.monotonic()
        process = popen(cmd, cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL)
        try:
            out, _ = process.communicate(timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            stop_tree(process.pid, timeout=2)
            out, _ = process.communicate()
        text = out.decode("utf-8", errors="replace")
        reported = {}
        for line in text.splitlines():
            if line.startswith("WTH-RUN "):
                entry = json.loads(line[8:])
                reported[entry["label"]] = entry
        elapsed = round(time.monotonic() - started, 2)
        for job in jobs:
            entry, path = reported.get(job["label"], reported.get("*")), Path(job["out"])
            if path.exists():  # it ran, to its end or until it was killed
                output = path.read_text(encoding="utf-8", errors="replace")
            elif entry or not reported:  # pytest missing, or the interpreter itself failed: what it said
                output = (entry or {}).get("error", "") or text
            else:  # never started: the gate run failed, or the time ran out before it
                output = ""
            lines = [line for line in output.strip().splitlines() if line.strip()]
            seconds = entry.get("seconds", elapsed) if entry else elapsed if path.exists() else 0.0
            runs[job["label"]] = PytestRun(entry["code"] if entry else None, seconds, output[-3000:],
                                           lines[-1] if lines else "", contained.reason if contained.available else None)
    return runs
