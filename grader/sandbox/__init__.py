"""Run a team's code under a sandbox: bubblewrap (`bwrap` 0.8 or later, Debian package `bubblewrap`) on Linux.

Each run of a team's tests is a sandbox of its own, so nothing one run leaves (files, processes,
IPC objects, keys) reaches the next. What team code sees, all read-only: the system folders (`SYSTEM`)
and a few files of /etc (`ETC`); its interpreter (the venv, the base installation's lib/ and binary),
the site-packages folders the venv's .pth files name, the grader's own interpreter and its program that
prepares the run (`prepare.py`, at PREPARE); a clean copy of its repository at the repository's own path
(editable installs of the repository's folders, such as the kit's `pip install -e ./tools`, resolve
there); the run's data file at a random path. Nothing else of the machine: no home, no other team's folder or name, no grader
folder, no socket. Writable: a tmpfs of `scratch_mb` at /tmp (the run's copy, HOME, temporary files)
and one of `shm_mb` at /dev/shm, nothing on the machine's disk (the numbers: `limits.LIMITS`).

Team code holds no capabilities: its own user namespace (no nested one), PID namespace (bwrap is its
PID 1; every process the run leaves is killed with it), network namespace (a loopback nobody else
listens on), IPC, UTS and cgroup namespaces; bwrap always runs unprivileged. When the grader runs as
root, team code runs as `nobody` (UNPRIVILEGED): a helper (`helper.py`, in the grader's own interpreter,
before any team code) mounts what nobody may see in a private mount namespace, then drops to nobody and
starts bwrap. Limits per process, set before any team code runs (`rlimits`, never above the grader's own
hard limits): `processes` (RLIMIT_NPROC, the processes and threads of the sandbox's user), `memory_mb`
(RLIMIT_AS), in CPU seconds what is left of the session's longest and the stop grace (RLIMIT_CPU, a backstop: a
thread's CPU time never passes the wall time, so the session's deadline stops a single-threaded run first), no core files.

The programs that run apart from the grader (`helper.py`, `prepare.py`) are files of this folder, never
imported by it: each runs by its path in the grader's own interpreter with `-I -S`, so only the standard
library is on its sys.path, and no file of a team's (a `grader/` folder, a `conftest.py`, a `.pth`) can
stand in for one of its modules.

Without bubblewrap (not Linux, not installed, or user namespaces refused) the code runs unsandboxed
and every affected check says so; `--require-sandbox` refuses to grade instead, saying why.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import parsing
from .limits import LIMITS

UNPRIVILEGED = 65534  # uid and gid of team code when the grader is root: nobody/nogroup
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "hosts", "host.conf", "nsswitch.conf",
       "gai.conf", "alternatives", "ssl", "ca-certificates", "mime.types", "os-release")
SCRATCH = "/tmp"  # inside: the writable tmpfs
DATA = "/data"  # inside: a run's data file, /data/<random>/TransactionHistory.csv
PREPARE = "/wth-grader/prepare.py"  # inside: the program each run starts with (`program("prepare")`), read-only
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"
SITE_NAMES = ("site-packages", "dist-packages")


def program(name: str) -> Path:
    """One of the grader's programs that run apart from it (this folder's `helper.py`, `prepare.py`): files of
    the standard library only, run by their path in the grader's own interpreter with `-I -S` (nothing but
    the standard library on sys.path: no site, no `.pth`, no current folder, nothing of a team's)."""
    return Path(__file__).with_name(f"{name}.py")


def isolated(path: Path | str) -> list[str]:
    """The command line running the program at `path` in the grader's own interpreter, isolated."""
    return [RUNNER, "-I", "-S", str(path)]


RUNNER = os.path.realpath(sys.executable)  # the grader's own interpreter: it runs the programs


@dataclass(frozen=True)
class Status:
    available: bool
    reason: str  # why not, when unavailable; the tool, its version and the user team code runs as otherwise


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _user() -> str:
    return f"nobody (uid {UNPRIVILEGED})" if _as_root() else "the grader's user"


def _namespaces(bwrap: str) -> list[str]:
    return [bwrap, "--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--cap-drop", "ALL", "--die-with-parent",
            "--new-session"]


def _system() -> list[str]:
    args = []
    for folder in SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return [*args, "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",  # bwrap's /dev is an unbounded tmpfs
            "--size", str(LIMITS.shm_mb << 20), "--tmpfs", "/dev/shm",
            "--size", str(LIMITS.scratch_mb << 20), "--tmpfs", SCRATCH]


def _launch(bwrap_argv: list[str], mounts: list[tuple[str, str]]) -> list[str]:
    """As root: the helper first (mounts, then nobody); otherwise bwrap itself."""
    if not _as_root():
        return bwrap_argv
    return [*isolated(program("helper")), json.dumps({"id": UNPRIVILEGED, "mounts": mounts}), *bwrap_argv]


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str | None, root: bool) -> Status:  # `root`: one answer as root, one as a user
    if bwrap is None:
        return Status(False, f"bubblewrap (bwrap) is not on PATH; {INSTALL_HINT}")
    argv = _launch([*_namespaces(bwrap), *_system(), "--remount-ro", "/", "--", "true"], [])
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=LIMITS.probe_s,
                                 check=False).stdout.strip()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=LIMITS.probe_s, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Status(False, f"{bwrap} does not run ({type(err).__name__})")
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Status(False, f"{bwrap} cannot run team code unprivileged here, as {_user()} with no capabilities "
                             f"in user namespaces of its own ({said})")
    return Status(True, f"{version or 'bubblewrap'} ({bwrap}), as {_user()}")


def status() -> Status:
    """Whether team code can be sandboxed on this machine, unprivileged (looked up once per `bwrap` and user)."""
    return _probe(shutil.which("bwrap"), _as_root())


def rlimits(cpu_s: float) -> dict[str, int]:
    """The resource limits `prepare.py` sets on itself before any team code runs (inherited by every process)."""
    return {"RLIMIT_NPROC": LIMITS.processes + _processes_outside(), "RLIMIT_AS": LIMITS.memory_mb << 20,
            "RLIMIT_CPU": max(1, int(cpu_s + 0.999)), "RLIMIT_CORE": 0}


def _processes_outside() -> int:
    """Before Linux 5.14 RLIMIT_NPROC counts the user's processes everywhere, not only in the sandbox's
    user namespace: the sandbox then gets `processes` more than the user already has."""
    release = tuple(int(part) for part in platform.release().split("-")[0].split(".")[:2] if part.isdigit())
    if release >= (5, 14):
        return 0
    import psutil

    uid = UNPRIVILEGED if _as_root() else os.getuid()
    return sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(LIMITS.venv_file_kb << 10).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _interpreter(path: Path) -> bool:
    """An executable file named like a Python interpreter: what a team's venv may point at, not any file."""
    return path.is_file() and os.access(path, os.X_OK) and re.fullmatch(r"(python|pypy)[\d.]*", path.name) is not None


def _venv(python: str) -> Path | None:
    venv = Path(os.path.abspath(python)).parent.parent
    return venv if (venv / "pyvenv.cfg").is_file() else None


def _site_folders(root: Path) -> list[Path]:
    return sorted(p for name in SITE_NAMES for p in root.glob(f"lib*/python3*/{name}") if p.is_dir())


def _named_folders(site: Path) -> list[Path]:
    """The folders a site-packages folder's .pth files and editable finders put on sys.path."""
    out = []
    for pth in sorted(site.glob("*.pth"))[:LIMITS.venv_files]:
        for line in _read(pth).splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")):
                out.append(Path(line) if os.path.isabs(line) else site / line)
    for finder in sorted(site.glob("__editable___*_finder.py"))[:LIMITS.venv_files]:
        try:
            tree = parsing.parse(_read(finder))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == "MAPPING":
                try:
                    mapping = ast.literal_eval(node.value)
                except ValueError:
                    continue
                out += [Path(str(v)) for v in (mapping.values() if isinstance(mapping, dict) else [])]
    return out


@dataclass
class Jail:
    """What one team's sandbox shows: read-only binds (host path -> path inside), the masks over hidden
    folders inside them, and what stays out of sight."""

    binds: list[tuple[Path, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (target, path inside)
    masks: list[str] = field(default_factory=list)
    unseen: list[Path] = field(default_factory=list)  # editable sources or .pth folders not shown
    skip: list[str] = field(default_factory=list)  # mount points inside the repository copy (not copied per run)

    def covers(self, path: Path) -> bool:
        return any(_inside(path, Path(inside)) for _, inside in self.binds)

    def command(self, args: list[str], stage: Path, data: tuple[Path, str] | None = None) -> list[str]:
        """`prepare.py` run with `args` in a sandbox of its own, with `data` (a file, the path inside) bound
        read-only too; as root, the binds come through mount points made in `stage` (an empty folder)."""
        bwrap, mounts = [*_namespaces(shutil.which("bwrap")), *_system()], []
        binds = self.binds + ([data] if data else [])
        if data and _as_root():  # nobody reads it (its folder stays private)
            data[0].chmod(data[0].stat().st_mode | 0o444)
        for i, (source, inside) in enumerate(sorted(binds, key=lambda bind: len(bind[1]))):  # parents first
            if _as_root():
                point = stage / str(i)
                point.mkdir() if source.is_dir() else point.touch()
                mounts.append((str(source), str(point)))
                source = point
            bwrap += ["--ro-bind", str(source), inside]
        for target, inside in self.links:
            bwrap += ["--symlink", target, inside]
        for folder in self.masks:
            bwrap += ["--tmpfs", folder, "--remount-ro", folder]
        if _as_root():
            stage.chmod(0o711)  # nobody reaches the mount points, and lists nothing
        return _launch([*bwrap, "--remount-ro", "/", "--chdir", SCRATCH, "--", *isolated(PREPARE), *args], mounts)

    def describe(self, cpu_s: float) -> str:
        found = status()
        unseen = f"; {len(self.unseen)} folder(s) the interpreter names outside the team's repository, venv and " \
                 "site-packages not visible" if self.unseen else ""
        return (f"{found.reason}: no capabilities; its own user, PID, network, IPC and UTS namespaces; visible read-only: "
                f"the system, the interpreter, the repository's copy and the data; writable: {LIMITS.scratch_mb} MB at "
                f"{SCRATCH}; at most {LIMITS.processes} processes; per process {LIMITS.memory_mb} MB of memory and "
                f"{rlimits(cpu_s)['RLIMIT_CPU']} s of CPU{unseen}")


def jail(python: str, repo: Path, copy: Path, hide: Iterable[str | Path] = ()) -> Jail:
    """The sandbox of one team's runs: `copy` (a clean copy of `repo`) shown at `repo`'s path, the
    interpreter `python` and what its venv names, and the grader's own interpreter with the program that
    prepares each run; `hide`: folders never shown, even inside those (every team's repository and
    workspace, the grader's folder). Each run's data file is bound by `Jail.command`."""
    repo = Path(os.path.abspath(repo))
    others = [Path(os.path.realpath(h)) for h in hide if os.path.realpath(h) != os.path.realpath(repo)]
    box = Jail()

    def show(path: Path) -> None:  # at its own path, what it resolves to, unless that is (in) a hidden folder
        real = Path(os.path.realpath(path))
        if any(_inside(real, h) for h in others):
            box.unseen.append(path)
            return
        box.binds.append((real, str(path)))
        box.masks += [str(h) for h in others if h != real and _inside(h, real)]

    def shown(path: Path) -> bool:
        return box.covers(path) or any(_inside(path, Path(s)) for s in SYSTEM)

    def interpreter(python: str) -> None:  # its chain of symlinks, each hop where it is looked for, and its stdlib
        hop = Path(os.path.abspath(python))
        for _ in range(40):
            if not hop.is_symlink():
                if _interpreter(hop) and not shown(hop):
                    show(hop)
                break
            target = os.readlink(hop)
            if not shown(hop):
                box.links.append((target, str(hop)))
            hop = Path(os.path.normpath(os.path.join(hop.parent, target)))
        prefix = Path(os.path.realpath(python)).parent.parent
        for path in (prefix / "lib", prefix / "lib64"):
            if any(path.glob("python3*/os.py")) and not shown(path):  # a Python installation's, with its standard library
                show(path)

    box.binds.append((copy, str(repo)))
    venv = _venv(python)
    if venv is not None:
        show(venv)
        if _inside(venv, repo):
            box.skip.append(str(venv))
            (copy / venv.relative_to(repo)).mkdir(parents=True, exist_ok=True)  # its mount point in the copy
    interpreter(python)
    interpreter(RUNNER)
    box.binds.append((program("prepare"), PREPARE))
    prefix = Path(os.path.realpath(python)).parent.parent
    sites = _site_folders(venv) if venv else _site_folders(prefix)
    if venv and "include-system-site-packages = true" in _read(venv / "pyvenv.cfg").lower():
        sites += _site_folders(prefix)
    for site in sites:
        for folder in _named_folders(site):
            folder = Path(os.path.abspath(folder))
            if shown(folder) or not folder.exists():
                continue
            if Path(os.path.realpath(folder)).name in SITE_NAMES and folder.is_dir():
                show(folder)  # another environment's installed packages
            else:
                box.unseen.append(folder)  # an editable source outside the repository: not the team's to show
    if _as_root():  # nobody reads the copy, and the program (an unzipped kit leaves it 0600)
        prepare = program("prepare")
        prepare.chmod(prepare.stat().st_mode | 0o444)
        for folder, dirs, files in os.walk(copy):
            for name in [".", *dirs, *files]:
                os.lchown(os.path.join(folder, name), UNPRIVILEGED, UNPRIVILEGED)
    return box
