"""Team code under the sandbox: a hostile team test that reads outside its repository, writes
outside its copy and opens a TCP connection fails in every attempt under bubblewrap, while an honest
suite passes; without a sandbox every affected check says so, and --require-sandbox refuses."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from pathlib import Path

import pytest
from grader_tools import build_repo, run_cli, write_teams

from grader import runner, sandbox, teams
from grader.checks import FAIL, PASS

HOSTILE_TEST = '''
import json, os, socket

def attempt(action):
    try:
        action()
        return "succeeded"
    except OSError as err:
        return type(err).__name__

def read(path):
    return lambda: open(path).read()

def write(path):
    def go():
        with open(path, "w") as out:
            out.write("pwned")
    return go

def test_escape():
    results = {{
        "read coach home": attempt(read({home_secret!r})),
        "read other team": attempt(read({other_secret!r})),
        "write other team": attempt(write({other_write!r})),
        "write interpreter": attempt(write({prefix_write!r})),
        "connect": attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close()),
    }}
    assert False, "RESULTS " + json.dumps(results)
'''


class Listener:
    """A TCP server on 127.0.0.1 counting the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port, self.accepted = self.sock.getsockname()[1], 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox-room")
    home = root / "coach-home"
    home.mkdir()
    (home / ".credentials").write_text("coach-credential")
    other = build_repo(root / "other-team", "starter")
    (other / "secret.txt").write_text("other-team-secret")
    listener = Listener()
    body = HOSTILE_TEST.format(home_secret=str(home / ".credentials"), other_secret=str(other / "secret.txt"),
                               other_write=str(other / "pwned"), prefix_write=f"{sys.prefix}/wth-sandbox-pwned",
                               port=listener.port)
    hostile = build_repo(root / "hostile", "custom", {"test_escape.py": body})
    yield {"root": root, "home": home, "other": other, "hostile": hostile, "listener": listener}
    listener.sock.close()


def _grade(tmp_path, ws, repo, other):
    path = write_teams(tmp_path / "teams.yaml", [
        {"name": "hostile", "workspace": str(ws.root), "endpoint": None, "repo": str(repo)},
        {"name": "other", "workspace": str(ws.root), "endpoint": None, "repo": str(other)}])
    return runner.grade(teams.load(path), challenge=2, teams=["hostile"])[0]


def test_a_hostile_test_is_contained(tmp_path, trained_ws, room, monkeypatch):
    found = sandbox.status()
    if not found.available:
        pytest.skip(f"no sandbox on this machine ({found.reason}); .ci/run installs bubblewrap")
    monkeypatch.setenv("HOME", str(room["home"]))  # the coach's home, as the grader sees it
    result = _grade(tmp_path, trained_ws, room["hostile"], room["other"]).result("C2.2")
    assert result.status == FAIL and result.evidence["sandbox"].startswith("bubblewrap")
    match = re.search(r"RESULTS (\{.*?\})", result.evidence["output_tail"])
    assert match, result.evidence["output_tail"]
    attempts = json.loads(match.group(1))
    assert attempts == {"read coach home": "FileNotFoundError", "read other team": "FileNotFoundError",  # hidden
                        "write other team": "OSError", "write interpreter": "OSError",  # read-only file system
                        "connect": "ConnectionRefusedError"}  # its own network namespace: nobody listens
    # what reached the grading machine: nothing
    assert not (room["other"] / "pwned").exists() and room["listener"].accepted == 0
    assert not Path(sys.prefix, "wth-sandbox-pwned").exists()
    assert "coach-credential" not in json.dumps(result.evidence) and "other-team-secret" not in json.dumps(result.evidence)


def test_without_a_sandbox_every_affected_check_says_so(tmp_path, trained_ws, room, monkeypatch):
    quick = build_repo(tmp_path / "quick", "custom", {"test_quick.py": "def test_quick():\n    assert True\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "no-bwrap-here"))
    assert not sandbox.status().available
    team = _grade(tmp_path, trained_ws, quick, room["other"])
    assert team.result("C2.2").status == PASS
    for check_id in ("C2.2", "C2.3"):
        result = team.result(check_id)
        assert "[not sandboxed: no bubblewrap on the grading machine]" in result.message, result.message


def test_require_sandbox_refuses_without_one(tmp_path, trained_ws):
    teams = write_teams(tmp_path / "teams.yaml", [{"name": "t", "workspace": str(trained_ws.root), "endpoint": None,
                                                   "repo": None}])
    done = run_cli("scoreboard", "--config", str(teams), "--require-sandbox", env={"PATH": str(tmp_path / "empty")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "--require-sandbox: team tests cannot be sandboxed on this machine: bubblewrap (bwrap) is not on PATH" in done.stderr
