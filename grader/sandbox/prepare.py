"""What each sandboxed run of a team's tests starts with: `python -I -S prepare.py SPEC PYTEST_ARGS...`.

It runs inside the run's sandbox, in the grader's own interpreter, before any team code: it sets the
resource limits (SPEC's `limits`, never above the hard limits it inherits), copies the repository
(`source`, less the mount points in `skip`) into the scratch folder (`work`), makes a fresh HOME, says it
is done on the descriptor `ready`, which it then closes, and only then becomes the team's interpreter
(`python`) running pytest with PYTEST_ARGS. The run's exit status is pytest's own. A program, not a
module: the grader never imports it, and binds it read-only into each sandbox (`grader.sandbox.PREPARE`);
the standard library only.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys


def set_limits(limits: dict[str, int]) -> None:
    """Each limit (a `resource.RLIMIT_*` name: its value) as soft and hard limit, never above the hard one."""
    for name, value in limits.items():
        limit = getattr(resource, name)
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    set_limits(spec["limits"])
    mounts = set(spec["skip"])
    shutil.copytree(spec["source"], spec["work"], symlinks=True,
                    ignore=lambda folder, names: [n for n in names if os.path.join(folder, n) in mounts])
    os.makedirs(os.environ["HOME"], exist_ok=True)
    os.chdir(spec["work"])
    os.write(spec["ready"], b"1")
    os.close(spec["ready"])
    os.execv(spec["python"], [spec["python"], "-m", "pytest", *argv[2:]])


if __name__ == "__main__":
    main(sys.argv)
