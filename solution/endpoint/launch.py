"""Start a server after writing its identity to a pid file, so that whoever starts it may be killed at
any moment (SIGKILL included) without leaving a process that no file names.

    python launch.py PID_FILE COMMAND...

`solution.servers.spawn` runs every server of the endpoint this way, by path (as router.py). On
Linux and macOS the command replaces this process, keeping its pid and creation time; Windows has no
exec, so there the command runs as this process's child and is stopped with its tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wth.processes import Identity


def main(argv: list[str]) -> int:
    pid_file, command = Path(argv[0]), argv[1:]
    partial = pid_file.with_suffix(".partial")
    Identity.of(os.getpid()).save(partial)
    os.replace(partial, pid_file)  # a reader sees no pid file or a whole one
    if sys.platform == "win32":
        return subprocess.call(command)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
