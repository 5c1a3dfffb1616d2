"""Run a team's code under a sandbox: bubblewrap (`bwrap`, Debian package `bubblewrap`) on Linux.

Inside: the whole file system read-only; the coach's home, /home, /root, /tmp, /var/tmp, /run, /mnt,
/media, /srv, the grader's own folder and every team's repository and workspace hidden behind empty
read-only tmpfs mounts; writable only the copy of the team's repository and a temporary home; the interpreter
and the data file bound back read-only; no network (a new network namespace holds only a loopback
nobody listens on); new PID/IPC/UTS namespaces, its own session, killed with the grader.

Without bubblewrap (not Linux, not installed, or user namespaces disabled) the code runs unsandboxed
and every affected check says so; `--require-sandbox` refuses to grade instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HIDDEN = ("/home", "/root", "/tmp", "/var/tmp", "/run", "/mnt", "/media", "/srv")
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"


@dataclass(frozen=True)
class Status:
    available: bool
    reason: str  # why not, when unavailable; the tool's name and version otherwise


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str | None) -> Status:
    if bwrap is None:
        return Status(False, f"bubblewrap (bwrap) is not on PATH; {INSTALL_HINT}")
    try:
        done = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "--die-with-parent",
                               "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Status(False, f"{bwrap} does not run ({type(err).__name__})")
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0][:200]
        return Status(False, f"{bwrap} cannot create a sandbox here ({first})")
    return Status(True, f"bubblewrap ({bwrap})")


def status() -> Status:
    """Whether team code can be sandboxed on this machine (looked up once per `bwrap` found on PATH)."""
    return _probe(shutil.which("bwrap"))


def _interpreter_roots(python: str) -> list[Path]:
    """Folders the interpreter needs: its venv (the folder holding pyvenv.cfg) and its real prefix."""
    path = Path(python).absolute()
    roots = []
    venv = path.parent.parent
    if (venv / "pyvenv.cfg").exists():
        roots.append(venv)
    roots.append(Path(os.path.realpath(path)).parent.parent)
    return roots


def command(argv: list[str], *, python: str, workdir: Path, home: Path, read_only: Iterable[str | Path] = (),
            hide: Iterable[str | Path] = ()) -> list[str]:
    """`argv` wrapped in bwrap: writable `workdir` and `home`, `read_only` files bound back, `hide` emptied."""
    bwrap = shutil.which("bwrap")
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--unshare-all", "--die-with-parent", "--new-session"]
    masks = {str(Path(p)) for p in (*HIDDEN, Path.home(), *hide) if Path(p).is_dir()}
    for folder in sorted(masks, key=len):  # parents first: a tmpfs over a parent would cover a child's
        args += ["--tmpfs", folder]
    for root in _interpreter_roots(python):
        if root.is_dir():
            args += ["--ro-bind", str(root), str(root)]
    for item in read_only:
        if Path(item).exists():
            args += ["--ro-bind", str(item), str(item)]
    args += ["--bind", str(workdir), str(workdir), "--bind", str(home), str(home), "--chdir", str(workdir)]
    for folder in sorted(masks, key=len):  # last: the binds above needed their mount points created first
        args += ["--remount-ro", folder]
    return [*args, "--", *argv]
