"""The test suite's own cost: `make test` from a fresh clone, install included, as the README's quick start has it.

A clone of the repository at `--ref` (default HEAD; committed work only) beside a copy of ../shared, in a temporary
folder; `make test` there, timed. CPU is counted twice: user+sys of the processes `make` waited for (what `time`
counts), and, where this machine lets a benchmark make a cgroup (Linux, as root), everything the run started,
the processes it left to run on their own included (CI runners, endpoints): that figure is the suite's real cost.

Targets (the README's budget for `make test`): at most TARGET_WALL_S in all and TARGET_CPU_S of user+sys on a
2-core machine.
Writes bench/results/suite.json; the README's figures for `make test` are that file's (a test holds them to it).
    .venv/bin/python bench/suite.py [--ref REF]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results" / "suite.json"
TARGET_WALL_S, TARGET_CPU_S = 300, 330
SUMMARY = re.compile(r"=+ (.*?) in ([\d.]+)s")  # pytest's last line: "1060 passed, 3 skipped, ... in 517.83s"
CGROUP_V1, CGROUP_V2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")


class Cgroup:
    """A CPU-accounting cgroup of its own (v1 `cpuacct`, else v2), or why this machine gives none."""

    def __init__(self, name: str):
        self.path, self.usage, self.why_not = None, "", "no cgroup file system this benchmark can use (cgroup v1 cpuacct or v2: Linux)"
        for base, usage in ((CGROUP_V1, "cpuacct.usage"), (CGROUP_V2, "cpu.stat")):
            if (base / usage).exists():
                try:
                    (base / name).mkdir()
                except OSError as err:
                    self.why_not = f"cannot make a cgroup in {base}: {err.strerror}"
                    return
                self.path, self.usage, self.why_not = base / name, usage, None
                return

    def enter(self) -> None:
        """Moves the calling process in (a child's `preexec_fn`: what it starts is counted from its start)."""
        if self.path:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def cpu_s(self) -> float | None:
        if not self.path:
            return None
        text = (self.path / self.usage).read_text()
        if self.usage == "cpuacct.usage":
            return int(text) / 1e9
        return int(re.search(r"usage_usec (\d+)", text).group(1)) / 1e6

    def remove(self) -> list[int]:
        """Removes the cgroup; the processes still in it (what the run left running) are moved out and returned."""
        if not self.path:
            return []
        left = [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        for pid in left:
            try:
                (self.path.parent / "cgroup.procs").write_text(str(pid))
            except OSError:  # it ended meanwhile
                pass
        self.path.rmdir()
        return left


def _commit(ref: str) -> str:
    return subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _failures(output: str) -> str:
    """pytest's account of what failed (its FAILURES section), else the output's end."""
    start = output.find("= FAILURES =")
    return output[start : start + 6000] if start >= 0 else output[-3000:]


def measure(ref: str) -> dict:
    commit = _commit(ref)
    with tempfile.TemporaryDirectory(prefix="wth-suite-") as folder:
        os.chmod(folder, 0o755)  # as a clone's folder is: the grader's tests run team code as nobody, who must reach it
        clone = Path(folder) / "repo"
        shutil.copytree(SHARED, Path(folder) / "shared", symlinks=True)
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True)
        group = Cgroup(f"wth-suite-{os.getpid()}")
        load_before, before = os.getloadavg(), resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"make test in a fresh clone of {commit[:12]} (load average {load_before[0]:.2f}); about 10 minutes",
              flush=True)
        started, measured_at = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
        done = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True, preexec_fn=group.enter,
                              check=False)
        wall = time.perf_counter() - started
        after, load_after = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()
        time.sleep(5)  # what the run left to end on its own
        whole, left = group.cpu_s(), group.remove()
    found = SUMMARY.findall(done.stdout)
    outcome, pytest_s = found[-1] if found else ("no pytest summary", None)
    return {
        "benchmark": "suite", "measured_at": measured_at, "commit": commit,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "user": "root" if hasattr(os, "geteuid") and os.geteuid() == 0 else "unprivileged"},
        "load_average_at_start": [round(x, 2) for x in load_before],
        "load_average_at_end": [round(x, 2) for x in load_after],
        "exit_code": done.returncode, "outcome": outcome,
        "skipped": re.findall(r"^SKIPPED \[\d+\] (.*)$", done.stdout, re.M),
        "wall_s": round(wall, 1), "pytest_s": pytest_s and float(pytest_s),
        "user_sys_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1),
        "whole_run_cpu_s": whole and round(whole, 1), "whole_run_cpu": group.why_not or "counted in a cgroup",
        "left_running": len(left),
        "targets": {"wall_s": TARGET_WALL_S, "user_sys_s": TARGET_CPU_S},
        "failures": _failures(done.stdout) if done.returncode else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="make test from a fresh clone: wall time and CPU")
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD; uncommitted work is not in it)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: the suite's data tests need it beside the clone")
    result = measure(args.ref)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    minutes, seconds = divmod(round(result["wall_s"]), 60)
    print(f"{result['outcome']}; make test {minutes} min {seconds} s (target {TARGET_WALL_S} s), user+sys "
          f"{result['user_sys_s']:.0f} s (target {TARGET_CPU_S} s), whole run "
          f"{result['whole_run_cpu_s'] if result['whole_run_cpu_s'] is not None else result['whole_run_cpu']}; "
          f"written to {RESULTS.relative_to(ROOT)}")
    sys.exit(0 if result["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
