"""The CI engine's own cost: the reference build workflow run by act on a push, against the same
steps run directly in a checkout of the same commit, alternately, in one run on one machine.

Direct: in a clone of the reference repository, the build workflow's two `run:` steps in order (the
tests, then `wth-solution pipeline build`), each a process as act starts it. CI: a fresh clone of the
same repository with its own origin and workspace (`wth ci init`), `git push`, and the run followed
to its end; measured from the push to the completed record (the hook, the runner's start, the
checkout, act, the record). Each round uses a fresh workspace on both sides.

Target: act's overhead (CI wall - direct wall) at most 10% of the direct build.
Writes bench/results/ci.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solution import demo  # noqa: E402
from wth.ci import origin as ci_origin  # noqa: E402
from wth.ci.records import Records  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ci.json"
TARGET = 0.10


def steps(repo: Path) -> list[str]:
    """The build workflow's `run:` steps, in job order."""
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "build.yml").read_text())
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def direct(repo: Path, workspace: Path) -> float:
    env = {**os.environ, "WTH_WORKSPACE": str(workspace),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    started = time.perf_counter()
    for command in steps(repo):
        subprocess.run(shlex.split(command), cwd=repo, env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - started


def through_ci(repo: Path, workspace: Path) -> tuple[float, dict]:
    ci_origin.init(repo, workspace)
    started = time.perf_counter()
    ci_origin.git("push", "--quiet", "origin", "main", cwd=repo)
    records = Records(workspace)
    done = records.wait(records.latest().number, poll_s=0.2)
    wall = time.perf_counter() - started
    if done.conclusion != "success":
        raise SystemExit(f"the CI run failed: {done.reason}\n{records.log_text(done)[-2000:]}")
    return wall, {"recorded_s": round(done.ended - done.started, 2), "jobs": {k: v["result"] for k, v in done.jobs.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="direct/CI pairs, alternating (default 2)")
    args = parser.parse_args(argv)
    load_start = [round(x, 2) for x in psutil.getloadavg()]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="wth-bench-ci-") as scratch:
        root = Path(scratch)
        source = demo.reference_repository(root / "source")
        for n in range(args.rounds):
            clone = root / f"direct-{n}"
            ci_origin.git("clone", "--quiet", str(source), str(clone))
            direct_s = direct(clone, root / f"ws-direct-{n}")
            clone = root / f"ci-{n}"
            ci_origin.git("clone", "--quiet", str(source), str(clone))
            ci_origin.git("remote", "remove", "origin", cwd=clone)
            ci_s, record = through_ci(clone, root / f"ws-ci-{n}")
            rounds.append({"direct_s": round(direct_s, 2), "ci_s": round(ci_s, 2), "ci_record": record,
                           "overhead": round(ci_s / direct_s - 1, 3)})
            print(f"round {n + 1}: direct {direct_s:.1f} s, through CI {ci_s:.1f} s "
                  f"(overhead {ci_s / direct_s - 1:+.1%})", flush=True)
    best = min(r["overhead"] for r in rounds)
    median_direct = median([r["direct_s"] for r in rounds])
    median_ci = median([r["ci_s"] for r in rounds])
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "load_average_at_start": load_start, "load_average_at_end": [round(x, 2) for x in psutil.getloadavg()],
                    "note": "one run, the two sides alternating: compare the ratios of this run"},
        "what": "the reference build workflow (tests, then wth-solution pipeline build) direct vs through act on a push",
        "rounds": rounds,
        "overhead_of_medians": round(median_ci / median_direct - 1, 3),
        "recorded_run_overhead_of_medians": round(median([r["ci_record"]["recorded_s"] for r in rounds]) / median_direct - 1, 3),
        "best_round_overhead": best,
        "target": f"overhead <= {TARGET:.0%}",
        "met_by_the_recorded_run": median([r["ci_record"]["recorded_s"] for r in rounds]) / median_direct - 1 <= TARGET,
        "met_from_the_push": median_ci / median_direct - 1 <= TARGET,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"overhead of the medians {result['overhead_of_medians']:+.1%} (target {result['target']}); wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
