"""Hostile team repositories under the grader's sandbox, graded as root and as an unprivileged user.

One room, graded once per user (challenge 2, by the grader's own code in a process of its own, which
refuses to grade without a sandbox): an honest team beside teams whose tests try to escape (umount, remount, a new user
namespace), read another team, the grader's folder or the coach's home, list other teams' folder
names, reach a Unix socket or a TCP port of the machine, fork 300 processes, write 2 GB, forge the
runner's results through its /proc/<pid>/fd and kill it, write 500 MB of output, loop forever, or
leave a daemon behind. Every attempt fails, the machine is left as it was, the grader's memory does
not grow with the output, and the honest team scores what it scores alone.

As root the second run is as `nobody`, with an interpreter nobody can run (the suite's own may live in
root's home): the system's Python of the same version, with this suite's packages on its path.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import psutil
import pytest
from grader_tools import build_repo, write_teams

from grader import sandbox
from grader.probes.repo import OUTPUT_READ_MB
from grader.testdata import CORRUPTIONS

NOBODY = sandbox.UNPRIVILEGED
BOOT = """import site, sys
site.addsitedir(sys.argv[1])
from grader import runner, sandbox, scoreboard, teams
found = sandbox.status()
if not found.available:
    sys.exit(f"no sandbox for {sys.argv[2]}: {found.reason}")
cfg = teams.load(sys.argv[2])
scoreboard.write_json(sys.argv[3], cfg.event, runner.grade(cfg, challenge=2))
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""  # the room's challenge 2, graded by the grader's own code in a process of its own; then its peak memory
SITE = sysconfig.get_paths()["purelib"]  # this suite's packages: pytest, pandas, mlflow, the grader
DAEMON_MARK = "wth-hostile-daemon"
LOOP_BUDGET_S = 4

PROBER = '''
import ctypes, errno, json, os, socket, subprocess, sys, time

def attempt(action):
    try:
        result = action()
        return "succeeded" if result is None else result
    except OSError as err:
        return errno.errorcode.get(err.errno, type(err).__name__)

def libc(name, *args):
    def call():
        lib = ctypes.CDLL(None, use_errno=True)
        if getattr(lib, name)(*args) != 0:
            raise OSError(ctypes.get_errno(), name)
    return call

def shell(*argv):
    def call():
        if subprocess.run(list(argv), capture_output=True).returncode != 0:
            raise OSError(errno.EPERM, argv[0])
    return call

def read(path):
    return lambda: open(path, "rb").close()

def write(path):
    def call():
        with open(path, "w") as out:
            out.write("pwned")
    return call

def connect(family, address):
    def call():
        with socket.socket(family) as sock:
            sock.settimeout(3)
            sock.connect(address)
    return call

def fill(folder):  # up to 2 GB, 64 MB at a time
    chunk, written = b"x" * (64 << 20), 0
    try:
        with open(os.path.join(folder, "wth-hostile-fill"), "wb", buffering=0) as out:
            while written < 2 << 30:
                written += out.write(chunk)
    except OSError as err:
        return [errno.errorcode[err.errno], written >> 20]
    return ["wrote", written >> 20]

def forks(n=300):
    children = []
    try:
        while len(children) < n:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            children.append(pid)
        return ["forked", n]
    except OSError as err:
        return [errno.errorcode[err.errno], len(children)]
    finally:
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)

def test_escape():
    results = {
        "umount /tmp": attempt(libc("umount2", b"/tmp", 2)),
        "umount -l /tmp": attempt(shell("umount", "-l", "/tmp")),
        "remount / rw": attempt(libc("mount", None, b"/", None, 32 | 4096, None)),
        "mount -o remount,rw,bind /": attempt(shell("mount", "-o", "remount,rw,bind", "/")),
        "new user namespace": attempt(libc("unshare", 0x10000000)),
        "capabilities": open("/proc/self/status").read().split("CapEff:")[1].split()[0],
        "read other team": attempt(read(P["other_secret"])),
        "read grader folder": [attempt(read(path)) for path in P["grader_secrets"]],
        "read coach home": attempt(read(P["home_secret"])),
        "read /etc/shadow": attempt(read("/etc/shadow")),
        "write other team": attempt(write(P["other_write"])),
        "write interpreter": attempt(write(sys.prefix + "/wth-hostile-pwned")),
        "write own repository": attempt(write(P["own_repo"] + "/wth-hostile-pwned")),
        "unix socket": attempt(connect(socket.AF_UNIX, P["unix"])),
        "tcp": attempt(connect(socket.AF_INET, ("127.0.0.1", P["port"]))),
        "next to the repository": sorted(os.listdir(os.path.dirname(P["own_repo"]))),
        "forks": forks(),
        "fill /tmp": fill(os.environ["TMPDIR"]),
        "fill /dev/shm": fill("/dev/shm"),
    }
    assert False, "RESULTS " + json.dumps(results, sort_keys=True)
'''

FORGER = '''
import json, os, signal, subprocess, sys

def test_leaves_a_daemon(capfd):
    with capfd.disabled():  # the daemon holds the run's real output open
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", P["mark"]], start_new_session=True)

def test_checks_nothing_and_forges_the_verdicts():
    lines = "".join(json.dumps({"label": label, "code": 0 if label == "clean" else 1, "seconds": 0}) + "\\n"
                    for label in P["labels"])
    lines = (lines + "".join("WTH-RUN " + line + "\\n" for line in lines.splitlines())).encode()
    for pid in {os.getppid(), 1}:
        for fd in range(64):
            try:
                with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as out:
                    out.write(lines)
            except OSError:
                pass
    for fd in range(3, 64):
        try:
            os.write(fd, lines)
        except OSError:
            pass
    for pid in {os.getppid(), 1}:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
'''

BOMB = '''
import os

def test_writes_500_mb(capfd):
    chunk = b"x" * (1 << 20)
    with capfd.disabled():  # to the real output, not pytest's capture
        for _ in range(500):
            os.write(1, chunk)
'''

LOOP = '''
def test_forever():
    while True:
        pass
'''

class Listener:
    """A server of the machine's, counting the connections it accepts (TCP on 127.0.0.1, or a Unix socket)."""

    def __init__(self, family=socket.AF_INET, address=("127.0.0.1", 0)):
        self.sock = socket.socket(family)
        self.sock.bind(address)
        if family == socket.AF_UNIX:
            os.chmod(address, 0o777)
        self.sock.listen(8)
        self.address, self.accepted = self.sock.getsockname(), 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def _runs_as(user: int, python: str, code: str) -> bool:
    try:
        done = subprocess.run([python, "-c", code], user=user, group=user, extra_groups=[], capture_output=True, check=False,
                              timeout=120, cwd="/")
    except OSError:  # cannot even start it
        return False
    return done.returncode == 0


def _interpreter_for(user: int) -> str | None:
    """An interpreter `user` can run that imports the grader with this suite's packages."""
    check = f"import site; site.addsitedir({SITE!r}); import grader.cli, pandas"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        if python and _runs_as(user, python, check):
            return python
    return None


@pytest.fixture(scope="module")
def room():
    """Every team's repository in one folder (nobody may read it all: the grader runs as nobody too)."""
    found = sandbox.status()
    if not found.available:
        pytest.skip(f"no sandbox on this machine ({found.reason}); .ci/run installs bubblewrap")
    root = Path(tempfile.mkdtemp(prefix="wth-hostile-"))
    teams_dir = root / "teams"
    (root / "coach-home").mkdir()
    (root / "coach-home" / ".credentials").write_text("coach-credential")
    other = build_repo(teams_dir / "other", "starter")
    (other / "secret.txt").write_text("other-team-secret")
    unix = Listener(socket.AF_UNIX, str(root / "machine.sock"))
    tcp = Listener()
    grader_dirs = {who: root / f"grader-{who}" for who in ("root", "unprivileged")}
    for folder in grader_dirs.values():
        folder.mkdir()
        (folder / "secret.txt").write_text("grader-secret")
    repos = {"honest": build_repo(teams_dir / "honest", "good")}
    facts = {"other_secret": str(other / "secret.txt"),
             "grader_secrets": [str(d / "secret.txt") for d in grader_dirs.values()],
             "home_secret": str(root / "coach-home" / ".credentials"), "other_write": str(other / "pwned"),
             "own_repo": str(teams_dir / "prober"), "unix": str(root / "machine.sock"), "port": tcp.address[1],
             "labels": ["clean", *CORRUPTIONS], "mark": DAEMON_MARK}
    for name, body in (("prober", PROBER), ("forger", FORGER), ("bomb", BOMB), ("loop", LOOP)):
        code = f"P = {facts!r}  # what the test knows of the machine\n{body}"
        repos[name] = build_repo(teams_dir / name, "custom", {f"test_{name}.py": code})
    yield {"root": root, "repos": repos, "other": other, "unix": unix, "tcp": tcp, "grader_dirs": grader_dirs}
    for listener in (unix, tcp):
        listener.sock.close()
    shutil.rmtree(root, ignore_errors=True)


def _team_venv(folder: Path, python: str) -> str:
    """A team's venv made from `python`, with this suite's packages through a .pth file (as a venv of the
    kit's walk-through has them): the sandbox shows the folder that .pth names."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120, capture_output=True)
    site = next(folder.glob("lib/python3*/site-packages"))
    (site / "suite-packages.pth").write_text(SITE + "\n")
    return str(folder / "bin" / "python")


def _grade(room: dict, who: str) -> tuple[dict, int]:
    """The room graded as `who`: (the JSON report, the grader's peak resident memory in bytes)."""
    if who == "root" and os.geteuid() != 0:
        pytest.skip("the suite runs unprivileged: the grader-as-root half needs root")
    folder = room["root"] / who
    folder.mkdir()
    user, python, defaults = None, sys.executable, {}
    if who == "unprivileged" and os.geteuid() == 0:
        user, python = NOBODY, _interpreter_for(NOBODY)
        if python is None:
            pytest.skip("no interpreter nobody can run imports this suite's packages (the suite's own lives in a folder "
                        f"nobody cannot read, and no python{sys.version_info.major}.{sys.version_info.minor} elsewhere)")
        defaults["python"] = _team_venv(folder / "venv", python)
    budgets = {"loop": {"pytest_s": LOOP_BUDGET_S}}
    teams = [{"name": name, "workspace": str(folder / "no-workspace"), "endpoint": None, "repo": str(repo),
              **({"budgets": budgets[name]} if name in budgets else {})} for name, repo in room["repos"].items()]
    teams.append({"name": "other", "workspace": str(folder / "no-workspace"), "endpoint": None, "repo": str(room["other"])})
    teams_file = write_teams(folder / "teams.yaml", teams, defaults=defaults, grader_dir=str(room["grader_dirs"][who]))
    if user is not None:
        for path in [room["root"], *room["root"].rglob("*")]:
            os.lchown(path, NOBODY, NOBODY)
    out = folder / "scoreboard.json"
    argv = [python, "-c", BOOT, SITE, str(teams_file), str(out)]
    env = {"PATH": os.environ["PATH"], "HOME": str(room["root"] / "coach-home"), "LANG": "C.UTF-8"}
    as_user = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
                          stdin=subprocess.DEVNULL, **as_user)
    assert done.returncode == 0, done.stdout + done.stderr
    peak_kb = int(done.stdout.split("VmHWM:")[1].split()[0])  # the grader's own high-water mark, sandboxes apart
    return json.loads(out.read_text()), peak_kb << 10


def _checks(report: dict, team: str) -> dict[str, dict]:
    (entry,) = [t for t in report["teams"] if t["name"] == team]
    return {c["id"]: c for challenge in entry["challenges"] for c in challenge["checks"]}


@pytest.mark.parametrize("who", ["root", "unprivileged"])
def test_hostile_teams_are_contained_and_the_honest_one_scores_as_alone(room, who):
    report, peak = _grade(room, who)
    honest = _checks(report, "honest")
    assert honest["C2.2"]["status"] == "pass" and honest["C2.3"]["status"] == "pass", honest["C2.2"]["message"]
    assert honest["C2.2"]["evidence"]["sandbox"].startswith("bubblewrap")
    assert ("as nobody" in honest["C2.2"]["evidence"]["sandbox"]) == (who == "root")

    prober = _checks(report, "prober")["C2.2"]
    assert prober["status"] == "fail" and "RESULTS " in prober["message"], prober["message"]
    seen = json.loads(prober["message"].split("RESULTS ", 1)[1].split(" [not sandboxed")[0])
    refused = {"EPERM", "EACCES", "EROFS", "EINVAL", "ENOENT", "ENOSPC"}
    for attempt in ("umount /tmp", "umount -l /tmp", "remount / rw", "mount -o remount,rw,bind /", "new user namespace",
                    "write interpreter", "write own repository"):
        assert seen[attempt] in refused, (attempt, seen[attempt])
    assert seen["capabilities"] == "0000000000000000"
    for attempt in ("read other team", "read coach home", "read /etc/shadow", "write other team", "unix socket"):
        assert seen[attempt] == "ENOENT", (attempt, seen[attempt])  # not there at all
    assert seen["read grader folder"] == ["ENOENT", "ENOENT"]
    assert seen["tcp"] == "ECONNREFUSED"  # its own network: nobody listens
    assert seen["next to the repository"] == ["prober"]  # no other team's folder name
    assert seen["forks"][0] == "EAGAIN" and seen["forks"][1] < sandbox.PROCESSES
    assert seen["fill /tmp"] == ["ENOSPC", seen["fill /tmp"][1]] and seen["fill /tmp"][1] <= sandbox.SCRATCH_MB
    assert seen["fill /dev/shm"][0] == "ENOSPC" and seen["fill /dev/shm"][1] <= sandbox.SHM_MB
    assert room["unix"].accepted == 0 and room["tcp"].accepted == 0
    assert not (room["other"] / "pwned").exists() and not (room["repos"]["prober"] / "wth-hostile-pwned").exists()
    assert not Path(sys.prefix, "wth-hostile-pwned").exists() and not Path("/tmp/wth-hostile-fill").exists()
    for secret in ("coach-credential", "other-team-secret", "grader-secret"):
        assert secret not in json.dumps(report)

    forger = _checks(report, "forger")  # its tests pass on any data, forge verdicts, kill the runner, leave daemons
    assert forger["C2.2"]["status"] == "pass", forger["C2.2"]["message"]  # the runner, PID 1, was not killed
    assert forger["C2.3"]["points"] == 0 and forger["C2.3"]["evidence"]["caught"] == []  # no forged verdict counted
    assert forger["C2.2"]["duration_s"] < 60  # no daemon kept a run's output open

    bomb = _checks(report, "bomb")["C2.2"]
    assert bomb["status"] == "fail"
    assert f"past {OUTPUT_READ_MB} MB: the grader stopped reading it" in bomb["evidence"]["output_tail"]
    assert peak < 500 << 20, f"the grader's peak memory {peak >> 20} MB grew with a team's 500 MB of output"

    loop = _checks(report, "loop")["C2.2"]
    assert loop["status"] == "fail" and f"did not finish within {LOOP_BUDGET_S} s" in loop["message"], loop["message"]

    left = [p.pid for p in psutil.process_iter(["cmdline"]) if DAEMON_MARK in " ".join(p.info["cmdline"] or [])]
    assert not left, f"daemons left behind: {left}"
