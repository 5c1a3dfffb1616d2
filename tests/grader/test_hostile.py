"""Hostile teams under the grader's sandbox, graded as root and as an unprivileged user.

One room, graded once per user (every challenge, by the grader's own code in a process of its own, which
refuses to grade without a sandbox): an honest team beside teams whose tests try to escape (umount, remount, a new user
namespace), read another team, the grader's folder or the coach's home, overwrite the program preparing the run, list other teams' folder
names, reach a Unix socket or a TCP port of the machine, fork 300 processes, write 2 GB, forge the
runner's results through /proc and every descriptor and kill it, write 500 MB of output, loop forever, or
leave a daemon behind, hold 3 GB in 6 processes; a suite that knows the clean file by its path, by the public data or by what an
earlier run left in HOME, /tmp or /dev/shm, with a venv whose .pth forges verdicts; a repository whose
test is a link to the honest team's, one whose .git points into the honest team's, one holding a 1 GB
sparse file; workspaces whose runs name the coach's holdout or a file the grader may not read; a
tracking server that redirects to a coach-only service and collects tokens, an endpoint answering a
JSON bomb. Every attempt fails, the machine is left as it was, the grader's memory does not grow with
the output, and the honest team scores what it scores alone.

As root the second run is as `nobody`, with an interpreter nobody can run (the suite's own may live in
root's home): the system's Python of the same version, with this suite's packages on its path.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest
from endpoints import ContractEndpoint, Served
from grader_tools import QUICK_VALIDATION, build_repo, build_workspace, write_teams
from suite_venv import SITE, new_venv, student_requirements

from grader import runner, sandbox, teams
from grader.sandbox.limits import LIMITS
from grader.testdata import CORRUPTIONS
from wth.data import bundled_file

pytestmark = pytest.mark.long

NOBODY = sandbox.UNPRIVILEGED
BOOT = """import site, sys
site.addsitedir(sys.argv[1])
from grader import runner, sandbox, scoreboard, teams
found = sandbox.status()
if not found.available:
    sys.exit(f"no sandbox for {sys.argv[2]}: {found.reason}")
cfg = teams.load(sys.argv[2])
scoreboard.write_json(sys.argv[3], cfg.event, runner.grade(cfg))
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""  # the room, graded by the grader's own code in a process of its own; then its peak memory
DAEMON_MARK = "wth-hostile-daemon"
COACH_TOKEN = "coach-mlflow-token-never-sent"
ROOM_BUDGET_S = 600
LOOP_BUDGET_S = 4

PROBER = QUICK_VALIDATION.replace("def test_the_data", "def test_0_the_data") + '''
import ctypes, errno, glob, json, os, socket, subprocess, sys, time

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
        "write the grader's program": attempt(write(P["program"])),
        "unix socket": attempt(connect(socket.AF_UNIX, P["unix"])),
        "tcp": attempt(connect(socket.AF_INET, ("127.0.0.1", P["port"]))),
        "next to the repository": sorted(os.listdir(os.path.dirname(P["own_repo"]))),
        "forks": forks(),
        "data files": len(glob.glob("/data/*/*")),
        "write /dev": attempt(write("/dev/wth-hostile-pwned")),  # a tmpfs as large as half the machine's memory
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

CHEATER = '''
import hashlib, os, re
from pathlib import Path

def test_knows_which_file_this_is():
    """Fails (catches) only when it can tell a corrupted file without validating a single rule."""
    path = os.environ["WTH_DATA_FILE"]
    data = open(path, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    assert not re.fullmatch(r"/data/[1-7]/TransactionHistory.csv", path), "corrupted, by its path (/data/0 was clean)"
    assert not (data.count(b"\\n") == P["public_lines"] and digest != P["public_sha256"]), "corrupted: not the public data"
    for mark in (Path(os.environ["HOME"], ".seen"), Path("/tmp/.seen"), Path("/dev/shm/.seen")):
        try:
            seen = mark.read_text()
        except OSError:
            seen = None
        try:
            mark.write_text(digest)
        except OSError:
            pass
        assert seen in (None, digest), "corrupted: an earlier run saw another file"
'''

BOMB = '''
import os

def test_writes_500_mb(capfd):
    chunk = b"x" * (1 << 20)
    with capfd.disabled():  # to the real output, not pytest's capture
        for _ in range(500):
            os.write(1, chunk)
'''

HOG = QUICK_VALIDATION.replace("def test_the_data", "def test_0_the_data") + '''
import os, time

def test_holds_3_gb_in_6_processes():
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            block = b"x" * (512 << 20)  # resident, page by page
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
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


class MlflowStranger(Served):
    """A team's tracking server that redirects every request to the coach-only service `to` and keeps every
    Authorization header it is sent."""

    def __init__(self, to: str):
        seen = self.authorizations = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _redirect(self):
                seen.append(self.headers.get("Authorization"))
                self.send_response(302)
                self.send_header("Location", to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

        self.uri = self._serve(Handler)


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
def room(tmp_path_factory):
    """Every team's repository, workspace and server (nobody may read it all: the grader runs as nobody too)."""
    found = sandbox.status()
    if not found.available:
        pytest.skip(f"no sandbox on this machine ({found.reason}); .ci/run installs bubblewrap")
    root = Path(tempfile.mkdtemp(prefix="wth-hostile-"))
    teams_dir = root / "teams"
    (root / "coach-home").mkdir()
    (root / "coach-home" / ".credentials").write_text("coach-credential")
    (root / "coach-private").mkdir()
    holdout = root / "coach-private" / "holdout.csv"
    holdout.write_text("date,PaidAmount\n2014-06-01,123.45\n")
    other = build_repo(teams_dir / "other", "starter")
    (other / "secret.txt").write_text("other-team-secret")
    unix = Listener(socket.AF_UNIX, str(root / "machine.sock"))
    tcp = Listener()
    grader_dirs = {who: root / f"grader-{who}" for who in ("root", "unprivileged")}
    for folder in grader_dirs.values():
        folder.mkdir()
        (folder / "secret.txt").write_text("grader-secret")
    repos = {"honest": build_repo(teams_dir / "honest", "custom", {"test_data.py": QUICK_VALIDATION})}
    public = gzip.decompress(bundled_file().read_bytes())
    facts = {"other_secret": str(other / "secret.txt"),
             "grader_secrets": [str(d / "secret.txt") for d in grader_dirs.values()],
             "home_secret": str(root / "coach-home" / ".credentials"), "other_write": str(other / "pwned"),
             "own_repo": str(teams_dir / "prober"), "unix": str(root / "machine.sock"), "port": tcp.address[1],
             "labels": ["clean", *CORRUPTIONS], "mark": DAEMON_MARK, "public_sha256": hashlib.sha256(public).hexdigest(),
             "public_lines": public.count(b"\n"), "program": sandbox.PREPARE}
    for name, body in (("prober", PROBER), ("forger", FORGER + CHEATER), ("bomb", BOMB), ("loop", LOOP), ("hog", HOG),
                       ("sparse", "import os\n\ndef test_blob():\n    assert os.path.getsize('blob.bin') == 1 << 30\n")):
        code = f"P = {facts!r}  # what the test knows of the machine\n{body}"
        repos[name] = build_repo(teams_dir / name, "custom", {f"test_{name}.py": code})
    with open(repos["sparse"] / "tests" / "blob.bin", "wb") as blob:  # 1 GB of nothing on disk
        blob.truncate(1 << 30)
    (repos["sparse"] / "tests" / "blob.bin").rename(repos["sparse"] / "blob.bin")
    repos["linker"] = build_repo(teams_dir / "linker", "starter")
    (repos["linker"] / "tests").mkdir()
    (repos["linker"] / "tests" / "test_borrowed.py").symlink_to(repos["honest"] / "tests" / "test_data.py")
    repos["borrower"] = teams_dir / "borrower"
    shutil.copytree(repos["honest"], repos["borrower"], ignore=shutil.ignore_patterns(".git"))
    (repos["borrower"] / ".git").write_text(f"gitdir: {repos['honest'] / '.git'}\n")
    workspaces = _c1_2_workspaces(root / "workspaces", holdout)
    coach_only = ContractEndpoint("echo")  # a loopback-only service of the coach's
    stranger, bomb = MlflowStranger(coach_only.uri), ContractEndpoint("bomb")
    yield {"root": root, "repos": repos, "other": other, "unix": unix, "tcp": tcp, "grader_dirs": grader_dirs,
           "workspaces": workspaces, "stranger": stranger, "endpoints": {"bomber": bomb.uri}, "coach_only": coach_only}
    for listener in (unix, tcp):
        listener.sock.close()
    for server in (stranger, bomb, coach_only):
        server.close()
    shutil.rmtree(root, ignore_errors=True)


def _c1_2_workspaces(folder: Path, holdout: Path) -> dict[str, Path]:
    """Two copies of a trained workspace whose training run's dataset names a file the grader must not read:
    `exfil` the coach's holdout, `locked` a file of its own in a folder only its owner may enter."""
    base = build_workspace(folder / "base", "trained").root
    out = {}
    for name in ("exfil", "locked"):
        ws = out[name] = folder / name
        shutil.copytree(base, ws)
        source = holdout if name == "exfil" else ws / "locked" / "window.csv"
        if name == "locked":
            source.parent.mkdir()
            shutil.copy(base / "data" / "window.csv", source)
            source.parent.chmod(0)  # root (the grader as root) enters it; nobody else, its owner included
        with sqlite3.connect(ws / "mlflow.db") as db:
            db.execute("UPDATE datasets SET dataset_source = ?", (json.dumps({"uri": source.as_uri()}),))
    return out


def _team_venv(folder: Path, python: str) -> str:
    """A team's venv made from `python`, with this suite's packages through a .pth file, as a venv of the
    kit's walk-through has them: the sandbox shows the folder that .pth names."""
    return str(new_venv(folder, student_requirements(), python))


def _grade(room: dict, who: str) -> tuple[dict, int]:
    """The room graded as `who`: (the JSON report, the grader's peak resident memory in bytes)."""
    if who == "root" and os.geteuid() != 0:
        pytest.skip("the suite runs unprivileged: the grader-as-root half needs root")
    folder = room["root"] / who
    folder.mkdir()
    # what is measured is the room's containment, not the grader's speed on a machine the suite's other workers
    # load too: every suite but the looping one has a budget that leaves room for that load
    user, python, defaults = None, sys.executable, {"budgets": {"pytest_s": ROOM_BUDGET_S}}
    if who == "unprivileged" and os.geteuid() == 0:
        user, python = NOBODY, _interpreter_for(NOBODY)
        if python is None:
            pytest.skip("no interpreter nobody can run imports this suite's packages (the suite's own lives in a folder "
                        f"nobody cannot read, and no python{sys.version_info.major}.{sys.version_info.minor} elsewhere)")
        defaults["python"] = _team_venv(folder / "venv", python)
    forger_venv = room["repos"]["forger"] / ".venv"  # the team's own venv, in its repository: its .pth forges
    shutil.rmtree(forger_venv, ignore_errors=True)
    _team_venv(forger_venv, python)
    forged = "".join(json.dumps({"label": label, "code": int(label != "clean")}) + "\n" for label in ["clean", *CORRUPTIONS])
    code = f"for fd in range(3, 64):\n    try:\n        os.write(fd, {forged.encode()!r})\n    except OSError:\n        pass\n"
    next(forger_venv.glob("lib/python3*/site-packages")).joinpath("forge.pth").write_text(f"import os; exec({code!r})\n")
    special = {"loop": {"budgets": {"pytest_s": LOOP_BUDGET_S}}, "forger": {"python": str(forger_venv / "bin" / "python")}}
    nowhere = str(folder / "no-workspace")
    teams = [{"name": name, "workspace": nowhere, "endpoint": None, "repo": str(repo), **special.get(name, {})}
             for name, repo in room["repos"].items()]
    teams += [{"name": "other", "workspace": nowhere, "endpoint": None, "repo": str(room["other"])},
              *({"name": name, "workspace": str(ws), "endpoint": None, "repo": None} for name, ws in room["workspaces"].items()),
              {"name": "stranger", "workspace": {"tracking_uri": room["stranger"].uri}, "endpoint": None, "repo": None},
              {"name": "bomber", "workspace": nowhere, "endpoint": room["endpoints"]["bomber"], "repo": None}]
    teams_file = write_teams(folder / "teams.yaml", teams, defaults=defaults, grader_dir=str(room["grader_dirs"][who]))
    if user is not None:
        for path in [room["root"], *room["root"].rglob("*")]:
            os.lchown(path, NOBODY, NOBODY)
    out = folder / "scoreboard.json"
    argv = [python, "-c", BOOT, SITE, str(teams_file), str(out)]
    env = {"PATH": os.environ["PATH"], "HOME": str(room["root"] / "coach-home"), "LANG": "C.UTF-8",
           "MLFLOW_TRACKING_TOKEN": COACH_TOKEN}
    as_user = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=2 * ROOM_BUDGET_S, check=False,
                          stdin=subprocess.DEVNULL, **as_user)
    assert done.returncode == 0, done.stdout + done.stderr
    peak_kb = int(done.stdout.split("VmHWM:")[1].split()[0])  # the grader's own high-water mark, sandboxes apart
    return json.loads(out.read_text()), peak_kb << 10


def _checks(report: dict, team: str) -> dict[str, dict]:
    (entry,) = [t for t in report["teams"] if t["name"] == team]
    return {c["id"]: c for challenge in entry["challenges"] for c in challenge["checks"]}


@pytest.fixture(scope="module")
def alone(room) -> dict[str, tuple[str, float]]:
    """The honest team graded alone, here: {check id: (status, points)}."""
    folder = room["root"] / "alone"
    folder.mkdir()
    entry = {"name": "honest", "workspace": str(folder / "no-workspace"), "endpoint": None, "repo": str(room["repos"]["honest"]),
             "budgets": {"pytest_s": ROOM_BUDGET_S}}
    (result,) = runner.grade(teams.load(write_teams(folder / "teams.yaml", [entry], grader_dir=str(folder / ".grader"))))
    return {r.id: (r.status, r.points) for r in result.results}


@pytest.mark.parametrize("who", ["root", "unprivileged"])
def test_hostile_teams_are_contained_and_the_honest_one_scores_as_alone(room, alone, who):
    report, peak = _grade(room, who)
    honest = _checks(report, "honest")
    assert honest["C2.2"]["status"] == "pass" and honest["C2.3"]["status"] == "pass", honest["C2.2"]["message"]
    assert {cid: (c["status"], c["points"]) for cid, c in honest.items()} == alone
    assert honest["C2.2"]["evidence"]["sandbox"].startswith("bubblewrap")
    assert ("as nobody" in honest["C2.2"]["evidence"]["sandbox"]) == (who == "root")

    prober = _checks(report, "prober")["C2.2"]
    assert prober["status"] == "fail" and "RESULTS " in prober["message"], prober["message"]
    seen = json.loads(prober["message"].split("RESULTS ", 1)[1].split(" [not sandboxed")[0])
    refused = {"EPERM", "EACCES", "EROFS", "EINVAL", "ENOENT", "ENOSPC"}
    for attempt in ("umount /tmp", "umount -l /tmp", "remount / rw", "mount -o remount,rw,bind /", "new user namespace",
                    "write interpreter", "write own repository", "write the grader's program"):
        assert seen[attempt] in refused, (attempt, seen[attempt])
    assert seen["capabilities"] == "0000000000000000"
    for attempt in ("read other team", "read coach home", "read /etc/shadow", "write other team", "unix socket"):
        assert seen[attempt] == "ENOENT", (attempt, seen[attempt])  # not there at all
    assert seen["read grader folder"] == ["ENOENT", "ENOENT"]
    assert seen["tcp"] == "ECONNREFUSED"  # its own network: nobody listens
    assert seen["data files"] == 1  # its own run's file, no other
    assert seen["write /dev"] in refused
    assert seen["next to the repository"] == ["prober"]  # no other team's folder name
    assert seen["forks"][0] == "EAGAIN" and seen["forks"][1] < LIMITS.processes
    assert seen["fill /tmp"] == ["ENOSPC", seen["fill /tmp"][1]] and seen["fill /tmp"][1] <= LIMITS.scratch_mb
    assert seen["fill /dev/shm"][0] == "ENOSPC" and seen["fill /dev/shm"][1] <= LIMITS.shm_mb
    assert room["unix"].accepted == 0 and room["tcp"].accepted == 0
    assert not (room["other"] / "pwned").exists() and not (room["repos"]["prober"] / "wth-hostile-pwned").exists()
    assert not Path(sys.prefix, "wth-hostile-pwned").exists() and not Path("/tmp/wth-hostile-fill").exists()
    for secret in ("coach-credential", "other-team-secret", "grader-secret"):
        assert secret not in json.dumps(report)

    # its tests pass on any data, forge verdicts (from its venv's .pth too), kill PID 1, leave daemons, and tell the
    # clean file by its path, by the public data or by what an earlier run left behind: none of that is caught data
    forger = _checks(report, "forger")
    assert forger["C2.2"]["status"] == "pass", forger["C2.2"]["message"]  # PID 1 was not killed, the clean run passed
    assert forger["C2.3"]["points"] == 0 and forger["C2.3"]["evidence"]["caught"] == []  # no forged or guessed verdict
    assert str(room["repos"]["forger"] / ".venv") in forger["C2.2"]["evidence"]["command"]  # its own venv ran it

    bomb = _checks(report, "bomb")["C2.2"]
    assert bomb["status"] == "fail"
    assert f"past {LIMITS.output_read_mb} MB: the grader stopped reading it" in bomb["evidence"]["output_tail"]
    assert peak < 500 << 20, f"the grader's peak memory {peak >> 20} MB grew with a team's 500 MB of output"

    loop = _checks(report, "loop")["C2.2"]  # stopped at its budget; on a machine the room starves, not its failure
    assert (loop["status"] == "fail" and f"did not finish within {LOOP_BUDGET_S} s" in loop["message"]) or (
        loop["status"] == "error" and "the grading machine was overloaded" in loop["message"]), loop["message"]

    left = [p.pid for p in psutil.process_iter(["cmdline"]) if DAEMON_MARK in " ".join(p.info["cmdline"] or [])]
    assert not left, f"daemons left behind: {left}"

    hog = _checks(report, "hog")["C2.2"]  # 6 processes of 512 MB each: the run is stopped past `run_memory_mb` together
    assert hog["status"] == "fail" and f"held more than {LIMITS.run_memory_mb} MB" in hog["evidence"]["output_tail"], hog

    sparse = _checks(report, "sparse")["C2.2"]  # its 1 GB (sparse) file is left out of the copy, not copied as zeros
    assert sparse["status"] == "fail" and f"past {LIMITS.copy_mb} MB" in sparse["evidence"]["output_tail"], sparse
    assert "blob.bin" in sparse["evidence"]["output_tail"]
    linker = _checks(report, "linker")["C2.1"]  # its one test file is a link to the honest team's
    assert linker["status"] == "fail" and linker["evidence"]["files"] == [], linker
    borrower = _checks(report, "borrower")["C0.2"]  # its .git points into the honest team's repository
    assert borrower["status"] == "fail" and ".git points outside the repository" in borrower["message"], borrower

    exfil = _checks(report, "exfil")["C1.2"]  # its run names the coach's holdout as its training data
    assert exfil["status"] == "error" and "is not a file of the team's workspace or repository" in exfil["message"]
    locked = _checks(report, "locked")["C1.2"]  # its run's data is in a folder only root may enter
    assert locked["status"] == ("error" if who == "unprivileged" else "pass"), locked["message"]

    stranger = _checks(report, "stranger")["C0.1"]  # its tracking server redirects to a coach-only service
    assert stranger["status"] == "error" and "the grader follows no redirect" in stranger["message"], stranger
    assert room["coach_only"].seen_headers == [] and COACH_TOKEN not in room["stranger"].authorizations
    assert room["stranger"].authorizations and not any(room["stranger"].authorizations)  # asked, with no credential
    bomber = _checks(report, "bomber")  # its endpoint answers a JSON nested 100,000 deep
    assert bomber["C3.1"]["status"] == "pass" and bomber["C3.2"]["status"] == "fail", bomber["C3.2"]["message"]
    assert not [c for team in report["teams"] for ch in team["challenges"] for c in ch["checks"] if c["status"] == "crash"]
