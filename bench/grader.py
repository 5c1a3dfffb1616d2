"""Benchmark: grade a room of 20 teams with the default budgets -> bench/results/grader.json.

The room: real MLflow workspaces at different stages (written through the product's workspace and
model modules, as tests/grader does: empty, trained, complete), each complete or trained team with
a live endpoint serving its champion and a repository at its stage (complete: tests that catch bad
data and pipelines; trained: 2 with tests that ignore the data, 3 with the starter project only); plus
2 endpoints that accept connections and never answer, 1 endpoint answering 200 with an error payload,
and 1 missing workspace. `--demo DIR` puts the workspace of `wth-solution demo --keep-serving`, with
its real azmlinfsrv endpoint, in place of one complete team.
Target: the whole room graded in under 30 s.
`--complete N` grades instead a room of N complete teams, each as heavy as a real one: a copy of the reference
team that `wth-solution demo` builds (`--demo DIR` reuses one, else the bench runs the demo): its repository
(the reference repository, tests and workflows included) as a bare clone served by `git daemon`, its
workspace copied to a folder of its own, and its own endpoint serving the champion's forecast (a contract
endpoint on 127.0.0.1: a team's endpoint runs on its laptop, the grader's cost is its requests). Two passes
share what they computed, as `watch`'s do: the first grades everything, then COMPLETE_CHANGED teams push a new
commit and the steady pass regrades only what changed. Its figures go to the file's `complete_room` section
(the rest of the file is the 20-team room's, kept). Also recorded: the share of the machine's CPU busy
while grading, and the peak memory of the grader with every team's test sandbox, from a second pass
over the room (sampling every process's PSS costs CPU, so the timed pass is not sampled).
`--output-bomb` compares two rooms that differ in one starter-only team's repository: in one its test
writes 500 MB of output, in the other the same test writes 1 MB (so both rooms run the same pytest
sessions and only the output differs). The grader reads each run's output with a cap, so the target
is a peak memory within 10 % of the quiet room's. A peak sampled twice a second while 8 teams' tests
start and end is noisy, so the two rooms are graded in turn (`--memory-passes` times each), the
highest peak of each is compared, and the spread of the quiet room's own passes is recorded.

    .venv/bin/python bench/grader.py [--demo /tmp/demo/ws] [--workers N] [--output-bomb [--memory-passes N]]
    .venv/bin/python bench/grader.py --complete 40 [--demo .wth]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
# this script is bench/grader.py: keep its folder off the path so `grader` is the package, not this file
sys.path[:] = [str(REPO_ROOT), str(REPO_ROOT / "tests"), str(REPO_ROOT / "tests" / "grader")] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import grader_tools as tools  # noqa: E402  (the tests' builders: real workspaces and repos)
from endpoints import ContractEndpoint, HangingEndpoint  # noqa: E402  (real HTTP endpoints on 127.0.0.1)
from test_hostile import BOMB  # noqa: E402  (the hostile suite's team that writes 500 MB of output)

from bench.common import this_machine  # noqa: E402  (the machine and its load)
from grader import runner, sandbox, scoreboard, teams  # noqa: E402
from grader.checks import STATUSES, all_checks  # noqa: E402
from grader.context import test_slots  # noqa: E402
from grader.sandbox.limits import LIMITS  # noqa: E402
from grader.testdata import CORRUPTIONS  # noqa: E402
from solution import workspace  # noqa: E402
from wth.store import DB_FILE  # noqa: E402

TARGET_S = 30.0
BOMB_MEMORY_TARGET = 1.10  # the room with the 500 MB-output team: peak memory at most 10 % above the room's
COMPLETE_CHANGED = 5  # complete room: teams that push a new commit before the steady pass
COMPLETE_SPEEDUP = 5.0  # ... which should take at most a fifth of the first pass
ROOM = (  # (kind, how many): 20 teams
    ("complete", 6), ("trained", 5), ("empty", 5), ("hanging", 2), ("error200", 1), ("missing", 1),
)


def build_room(scratch: Path, demo: Path | None) -> tuple[list[dict], list]:
    batches = tools.write_batches(scratch / "batches")
    repos = {kind: tools.build_repo(scratch / f"repo-{kind}", kind) for kind in ("good", "ignores-data", "starter")}
    stages = {stage: tools.build_workspace(scratch / f"base-{stage}", stage, batches, repo=repos["good"])
              for stage in ("empty", "trained", "full")}  # each pipeline run made by a CI run, as a team's is
    forecasts = {stage: tools.champion_forecast(stages[stage]) for stage in ("trained", "full")}
    teams, servers = [], []
    for kind, count in ROOM:
        for i in range(1, count + 1):
            name = f"{kind}-{i}"
            stage = {"complete": "full", "hanging": "trained", "error200": "trained"}.get(kind, kind)
            entry = {"name": name, "endpoint": None, "repo": None}
            if kind == "missing":
                entry["workspace"] = str(scratch / "nowhere" / name)
            else:
                entry["workspace"] = str(copied_workspace(stages[stage].root, scratch / "teams" / name))
            if kind == "complete" and demo is not None and i == 1:
                live = json.loads((demo / "endpoint" / "endpoint.json").read_text())
                entry.update(name="demo", workspace=str(demo), endpoint=live["scoring_uri"], repo=str(repos["good"]))
            elif kind in ("complete", "trained"):
                fc, version = forecasts[stage]
                server = ContractEndpoint("good", fc, version)
                servers.append(server)
                repo = "good" if kind == "complete" else "ignores-data" if i <= 2 else "starter"
                entry.update(endpoint=server.uri, repo=str(repos[repo]))
            elif kind == "hanging":
                server = HangingEndpoint()
                servers.append(server)
                entry["endpoint"] = server.uri
            elif kind == "error200":
                server = ContractEndpoint("error200")
                servers.append(server)
                entry["endpoint"] = server.uri
            teams.append(entry)
    return teams, servers, batches


class Sampler:
    """Calls `sample()` every `every_s` in a thread of its own, from entering the block to leaving it."""

    def __init__(self, every_s: float):
        self._every, self._stop = every_s, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.wait(self._every):
            self.sample(me)

    def sample(self, me: psutil.Process) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class PeakMemory(Sampler):
    """The peak memory of this process and all its descendants (the team tests' sandboxes included),
    sampled: the sum of their PSS where the system has it (Linux: a page shared by forked children
    counts once), else of their USS (a page shared is not counted). `own_peak`: this process's alone,
    the grader's side, where reading a team's output whole would show."""

    def __init__(self, every_s: float = 0.5):
        super().__init__(every_s)
        self.peak, self.own_peak, self.measure = 0, 0, "PSS"

    def sample(self, me: psutil.Process) -> None:
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            size = getattr(info, "pss", info.uss)
            total += size
            if process is me:
                self.own_peak = max(self.own_peak, size)
            self.measure = "PSS" if hasattr(info, "pss") else "USS"
        self.peak = max(self.peak, total)


class SandboxedCpu(Sampler):
    """CPU seconds (user + system) of the processes inside the team tests' sandboxes (below each `bwrap`), sampled
    every `every_s`: no wait of this process accounts for them (bubblewrap's PID namespace reaps them), unlike
    the grader's threads and the git it runs. A process's last `every_s` before it ends is missed: a lower bound."""

    def __init__(self, every_s: float = 0.2):
        super().__init__(every_s)
        self._seen: dict[tuple[int, float], float] = {}

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())

    def sample(self, me: psutil.Process) -> None:
        try:
            boxes = [p for p in me.children(recursive=True) if p.name() == "bwrap"]
        except psutil.Error:
            return
        for box in boxes:
            try:
                inside = box.children(recursive=True)
            except psutil.Error:
                continue
            for process in inside:
                try:
                    times, key = process.cpu_times(), (process.pid, process.create_time())
                except psutil.Error:
                    continue
                self._seen[key] = max(self._seen.get(key, 0.0), times.user + times.system)


def _busy_fraction(before, after) -> float:
    """The share of the machine's CPU time (all cores) spent busy between two `psutil.cpu_times()`."""
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    total = sum(after) - sum(before)
    return 1 - idle / total if total else 0.0


def _graded(cfg, workers: int) -> tuple[list, float, float]:
    """The room graded once: (results, wall seconds, CPU busy share)."""
    cpu_before, started = psutil.cpu_times(), time.monotonic()
    results = runner.grade(cfg, workers=workers)
    return results, time.monotonic() - started, _busy_fraction(cpu_before, psutil.cpu_times())


def _sampled(cfg, workers: int) -> tuple[list, float, PeakMemory]:
    """The room graded with its memory sampled: (results, wall seconds, its peak memory)."""
    started = time.monotonic()
    with PeakMemory() as memory:
        results = runner.grade(cfg, workers=workers)
    return results, time.monotonic() - started, memory


def _memory_with_output_bomb(scratch: Path, entries: list[dict], batches, workers: int, passes: int) -> dict:
    """The sampled peak of the room whose team trained-5 has a test writing 500 MB against the room where
    the same test writes 1 MB, the two graded in turn `passes` times each."""
    quiet_test = BOMB.replace("range(500)", "range(1)")
    assert quiet_test != BOMB

    def room_with(name: str, test: str):
        repo = tools.build_repo(scratch / f"repo-{name}", "custom", {"test_output.py": test})
        with_repo = [dict(t, repo=str(repo)) if t["name"] == "trained-5" else t for t in entries]
        return teams.load(tools.write_teams(scratch / f"teams-{name}.yaml", with_repo, drift_batches=batches))

    cfg, bombed_cfg = room_with("quiet-output", quiet_test), room_with("output-bomb", BOMB)
    room, bombed, status = [], [], None
    for i in range(passes):
        print(f"memory pass {i + 1} of {passes}: trained-5 writing 1 MB, then 500 MB", flush=True)
        room.append(_sampled(cfg, workers)[2])
        results, _, memory = _sampled(bombed_cfg, workers)
        bombed.append(memory)
        (team,) = [r for r in results if r.name == "trained-5"]
        status = team.result("C2.2").status

    def mb(peaks) -> list[int]:
        return [round(p / 2**20) for p in peaks]

    peak, bombed_peak = max(m.peak for m in room), max(m.peak for m in bombed)
    ratio = bombed_peak / peak if peak else 0.0
    return {"team": "trained-5", "its_c2_2": status, "passes_each": passes,
            "quiet_room_peaks_mb": mb(m.peak for m in room), "bombed_peaks_mb": mb(m.peak for m in bombed),
            "quiet_room_spread": round(peak / min(m.peak for m in room), 3),
            "grader_alone_peaks_mb": {"quiet": mb(m.own_peak for m in room), "bombed": mb(m.own_peak for m in bombed)},
            "ratio_to_the_room": round(ratio, 3), "measure": "highest peak of the bombed passes over the quiet room's",
            "target_ratio": BOMB_MEMORY_TARGET, "within_target": ratio <= BOMB_MEMORY_TARGET}


def reference_team(scratch: Path, demo: Path | None) -> Path:
    """The workspace of `wth-solution demo`, its reference repository in repo/: `demo`, else a new run of the demo."""
    if demo is not None:
        return demo.resolve()
    ws = scratch / "reference"
    print("no --demo: running `wth-solution demo` for the reference team (minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "solution", "demo", "--workspace", str(ws), "--port", str(tools.free_port())],
                   check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return ws


def copied_workspace(source: Path, target: Path) -> Path:
    """A team's own copy of the reference workspace (its MLflow store, artifacts and CI records; not the repository
    and its origin, which the team serves over git): every path of `source` its store names now names `target`,
    so the grader reads the copy's artifacts as the team's own (it reads none outside a team's folder)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("repo", "origin.git", "grader"))
    with sqlite3.connect(target / DB_FILE) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                if kind.upper().startswith(("TEXT", "VARCHAR")):
                    db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?1, ?2) WHERE instr("{column}", ?1)',
                               (str(source), str(target)))
    db.close()
    return target


def build_complete_room(scratch: Path, reference: Path, count: int, git_base: str) -> tuple[list[dict], list, dict[str, Path]]:
    """`count` copies of the reference team: (teams-file entries, their endpoints, each team's bare repository)."""
    fc, version = tools.champion_forecast(workspace.resolve(reference))
    entries, servers, bare = [], [], {}
    for i in range(1, count + 1):
        name = f"team-{i:02d}"
        bare[name] = scratch / "served" / f"{name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(reference / "repo"), str(bare[name])], check=True)
        server = ContractEndpoint("good", fc, version)
        servers.append(server)
        entries.append({"name": name, "workspace": str(copied_workspace(reference, scratch / "teams" / name)),
                        "endpoint": server.uri, "repo": {"git": f"{git_base}/{name}.git"}})
    return entries, servers, bare


def push_change(bare: Path, work: Path) -> None:
    """A team's new commit, pushed to its served repository (a line more in its README)."""
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    with (work / "README.md").open("a") as readme:
        readme.write("\nOur team's notes.\n")
    tools.commit_all(work, "notes")
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD"], check=True)


def _own_cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its children waited for: the grader's threads, git; not
    the other work of a shared machine (nor the sandboxes' processes: `SandboxedCpu`)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def graded_pass(cfg, workers: int, earlier: runner.Earlier) -> dict:
    """One pass over the room, taking over what `earlier` passes computed on unchanged inputs: its figures.
    Its memory is sampled every second, its sandboxes' CPU five times a second (small beside the test sessions).
    `grading_cpu_s`: the CPU the pass cost, the grader's and its team tests' (`_own_cpu_s`, `SandboxedCpu`)."""
    load, begun = os.getloadavg(), datetime.now(UTC).replace(microsecond=0)
    cpu_before, own_before, started = psutil.cpu_times(), _own_cpu_s(), time.monotonic()
    with PeakMemory(every_s=1.0) as memory, SandboxedCpu() as sandboxed:
        results = runner.grade(cfg, workers=workers, earlier=earlier)
    wall, busy = time.monotonic() - started, _busy_fraction(cpu_before, psutil.cpu_times())
    own = _own_cpu_s() - own_before + sandboxed.seconds
    checks = [c for r in results for c in r.results]
    ran = [c for c in checks if datetime.fromisoformat(c.computed_at) >= begun]
    scores = {}
    for r in results:
        scores[f"{r.score:g}/{r.max_score}"] = scores.get(f"{r.score:g}/{r.max_score}", 0) + 1
    return {"wall_s": round(wall, 1), "cpu_busy": round(busy, 2), "grading_cpu_s": round(own, 1),
            "load_average_at_start": [round(v, 2) for v in load],
            "peak_memory_mb": round(memory.peak / 2**20), "grader_alone_peak_mb": round(memory.own_peak / 2**20),
            "checks_run": len(ran), "checks_kept": len(checks) - len(ran),
            "team_tests_run": sum(c.id == "C2.2" for c in ran), "scores": scores,
            "statuses": {s: sum(c.status == s for c in checks) for s in STATUSES},
            "not_passed": [f"{r.name} {c.id} {c.status}: {c.message[:160]}" for r in results for c in r.results
                           if c.status != "pass"][:20],
            "slowest_team_s": max(r.duration_s for r in results)}


def complete_room(args) -> int:
    """`--complete N`: the room of N complete teams, a first pass and a steady pass (COMPLETE_CHANGED pushed); the
    figures are written after each pass (a steady pass still to come is null)."""
    machine = this_machine()
    with tempfile.TemporaryDirectory(prefix="wth-bench-complete-") as tmp:
        scratch = Path(tmp)
        reference = reference_team(scratch, args.demo)
        (scratch / "served").mkdir()
        setup_start = time.monotonic()
        with tools.git_daemon(scratch / "served") as git_base:
            entries, servers, bare = build_complete_room(scratch, reference, args.complete, git_base)
            cfg = teams.load(tools.write_teams(scratch / "teams.yaml", entries, grader_dir=str(scratch / "grader")))
            changed = sorted(bare)[:COMPLETE_CHANGED]
            out = {"measured_at": None, "teams": len(entries),
                   "machine": machine | {
                       "load_average_at_start": [round(v, 2) for v in machine["load_average_at_start"]],
                       "note": "one run: each pass's load average says how busy the machine was (other work included); "
                               "grading_cpu_s is the CPU of the grader and of the team tests it ran"},
                   "changed_before_steady_pass": len(changed), "checks_per_team": len(all_checks()),
                   "team": "a copy of the reference team (wth-solution demo): repository over git daemon, workspace "
                           "folder, contract endpoint on 127.0.0.1 serving the champion's forecast",
                   "teams_in_parallel": args.workers, "test_slots": test_slots(),
                   "sandbox": sandbox.status().reason if sandbox.status().available else "none",
                   "setup_s": round(time.monotonic() - setup_start, 1), "first_pass": None, "steady_pass": None}
            earlier = runner.Earlier()
            print(f"{len(entries)} complete teams ready in {out['setup_s']:.0f} s; first pass", flush=True)
            out["first_pass"] = graded_pass(cfg, args.workers, earlier)
            _write_complete_room(args.out, out)
            print(f"first pass: {out['first_pass']['wall_s']} s, scores {out['first_pass']['scores']}", flush=True)
            for name in changed:
                push_change(bare[name], scratch / "work" / name)
            out["steady_pass"] = graded_pass(cfg, args.workers, earlier)
            for server in servers:
                server.close()
    first, steady = out["first_pass"]["wall_s"], out["steady_pass"]["wall_s"]
    speedup = first / steady if steady else 0.0
    out |= {"steady_speedup": round(speedup, 1), "target_speedup": COMPLETE_SPEEDUP, "within_target": speedup >= COMPLETE_SPEEDUP,
            "sizing": sizing(out)}
    _write_complete_room(args.out, out)
    print(f"{len(entries)} complete teams: first pass {first} s, steady pass ({len(changed)} pushed) {steady} s, scores "
          f"{out['steady_pass']['scores']} ({speedup:.1f}x; target {COMPLETE_SPEEDUP:g}x); wrote {args.out}")
    return 0


SIZING_TEAMS = (40, 100)  # rooms Coach/Grading.md sizes a machine for
SIZING_CORES = (2, 4, 8, 16)


def sizing(room: dict) -> dict:
    """What the measured passes imply for other rooms and machines, derived, not measured: a team that pushed costs
    what a team cost in the first pass, an unchanged one what the steady pass spent beyond the pushed teams; the
    team tests, one session per CPU, keep every core busy, so a pass takes its CPU seconds over the cores (a lower
    bound: the figure of a quiet machine). Memory: the grader alone scaled by the teams (an upper bound: its base,
    MLflow's and pandas' import, does not grow), plus each test slot's share of the measured peak; and what the
    grader wants free to run a test session on every core (`context.test_slots`: `run_memory_mb` each)."""
    first, steady, teams, pushed = room["first_pass"], room["steady_pass"], room["teams"], room["changed_before_steady_pass"]
    pushed_cpu = first["grading_cpu_s"] / teams
    unchanged_cpu = max(0.0, steady["grading_cpu_s"] - pushed * pushed_cpu) / max(1, teams - pushed)
    slots = max(1, room["test_slots"])
    grader_mb = max(first["grader_alone_peak_mb"], steady["grader_alone_peak_mb"])
    slot_mb = (max(first["peak_memory_mb"], steady["peak_memory_mb"]) - grader_mb) / slots
    rooms = {}
    for n in SIZING_TEAMS:
        changed = round(n * pushed / teams)
        rooms[f"{n} teams"] = {
            "first_pass_s": {f"{c} cores": round(n * pushed_cpu / c) for c in SIZING_CORES},
            f"steady_pass_s ({changed} pushed)": {f"{c} cores": round((changed * pushed_cpu + (n - changed) * unchanged_cpu) / c)
                                                  for c in SIZING_CORES},
            "memory_mb": {f"{c} cores": round(grader_mb * n / teams + slot_mb * c) for c in SIZING_CORES},
            "memory_free_for_a_session_per_core_mb": {f"{c} cores": round(grader_mb * n / teams + LIMITS.run_memory_mb * c)
                                                      for c in SIZING_CORES}}
    return {"cpu_s_per_team_first_pass": round(pushed_cpu, 1), "cpu_s_per_unchanged_team_steady_pass": round(unchanged_cpu, 1),
            "grader_alone_mb": grader_mb, "mb_per_test_slot": round(slot_mb), "rooms": rooms}


def _write_complete_room(path: Path, figures: dict) -> None:
    """The complete room's figures as the file's `complete_room`, the rest of the file kept."""
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report = json.loads(path.read_text()) if path.is_file() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report | {"complete_room": figures}, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="workspace of `wth-solution demo --keep-serving` (endpoint live)")
    parser.add_argument("--workers", type=int, default=runner.MAX_TEAMS_IN_PARALLEL, help="teams graded at once")
    parser.add_argument("--output-bomb", action="store_true",
                        help="grade the room again with a team writing 500 MB of output, and compare peak memory")
    parser.add_argument("--memory-passes", type=int, default=2, metavar="N",
                        help="with --output-bomb: sampled passes of each room, in turn (default 2)")
    parser.add_argument("--complete", type=int, metavar="N",
                        help=f"grade a room of N complete teams instead, twice: all, then after {COMPLETE_CHANGED} pushed")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "grader.json")
    args = parser.parse_args()
    if args.complete:
        return complete_room(args)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wth-bench-grader-") as tmp:
        scratch = Path(tmp)
        setup_start = time.monotonic()
        entries, servers, batches = build_room(scratch, args.demo)
        setup_s = time.monotonic() - setup_start
        teams_file = tools.write_teams(scratch / "teams.yaml", entries, drift_batches=batches)
        cfg = teams.load(teams_file)
        results, wall, busy = _graded(cfg, args.workers)
        print(f"graded {len(results)} teams in {wall:.1f} s; once more, its memory sampled", flush=True)
        memory = _sampled(cfg, args.workers)[2]
        bombed = (_memory_with_output_bomb(scratch, entries, batches, args.workers, args.memory_passes)
                  if args.output_bomb else None)
        for server in servers:
            server.close()
        scoreboard.write_json(scratch / "scoreboard.json", cfg.event, results)
        print(scoreboard.table(results))
    by_team = {r.name: {"score": r.score, "max_score": r.max_score, "duration_s": r.duration_s,
                        "statuses": {s: sum(c.status == s for c in r.results) for s in STATUSES},
                        "checks_over_1s": {c.id: c.duration_s for c in r.results if c.duration_s > 1}}
               for r in results}
    out = {
        "benchmark": "grader",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "load_average_at_start": [round(v, 2) for v in load_start],
                    "note": "one run; the load average at its start says how quiet the machine was"},
        "room": {kind: count for kind, count in ROOM} | {"demo_workspace": bool(args.demo)},
        "checks_per_team": len(all_checks()),
        "budgets": "defaults (connect 3 s, read 10 s, check 30 s, pytest 120 s, team 240 s)",
        "team_tests": {"sandbox": sandbox.status().reason if sandbox.status().available else "none",
                       "sandbox_limits": {"scratch_mb": LIMITS.scratch_mb, "processes": LIMITS.processes,
                                          "memory_mb_per_process": LIMITS.memory_mb,
                                          "memory_mb_per_run": LIMITS.run_memory_mb},
                       "pytest_runs_per_team_with_tests": 1 + len(CORRUPTIONS),
                       "sandboxes_per_team": 1 + len(CORRUPTIONS)},
        "setup_s": round(setup_s, 1),
        "wall_s": round(wall, 2),
        "cpu_busy_while_grading": round(busy, 2),
        "teams_in_parallel": args.workers,
        "peak_memory_mb": round(memory.peak / 2**20),
        "peak_memory_measure": f"sum of {memory.measure} over the grader and its descendants, sampled every 0.5 s "
                               "in a second pass (the timed pass is not sampled)",
        "target_s": TARGET_S,
        "within_target": wall < TARGET_S,
        "slowest_team": max(by_team.items(), key=lambda kv: kv[1]["duration_s"])[0],
        **({"with_output_bomb": bombed} if bombed else {}),
        "teams": by_team,
    }
    kept = json.loads(args.out.read_text()).get("complete_room") if args.out.is_file() else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out | ({"complete_room": kept} if kept else {}), indent=2) + "\n")
    print(f"graded {len(results)} teams in {wall:.1f} s (target {TARGET_S:.0f} s); wrote {args.out}")
    if bombed:
        print(f"with a 500 MB-output team: peak memory {max(bombed['bombed_peaks_mb'])} MB, "
              f"{bombed['ratio_to_the_room']:.2f}x the quiet room's {max(bombed['quiet_room_peaks_mb'])} MB "
              f"(target <= {BOMB_MEMORY_TARGET:.2f}x; the quiet room's own passes spread {bombed['quiet_room_spread']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
