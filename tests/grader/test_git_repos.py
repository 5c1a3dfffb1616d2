"""Team repositories by git URL, with real `git`: a bare repository served over file://, over
`git daemon` and over `git http-backend` (behind a token) on 127.0.0.1. A team graded from its URL
scores what its local clone scores; the token never appears in any report, log or file the grader writes."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from endpoints import Served
from grader_tools import (
    FAKE_SECRET,
    build_repo,
    commit_all,
    git_daemon,
    run_cli,
    write_teams,
)

from grader import runner, teams
from grader.checks import ERROR, PASS, all_checks
from grader.context import Session
from grader.not_gradable import NotGradable
from grader.probes.git import fetch

REPO_CHECKS_WITHOUT_PYTEST = ("C0.2", "C2.1", "C2.4", "C5.4")


class GitHttp(Served):
    """`git http-backend` (smart HTTP) on 127.0.0.1, answering only requests that carry the token."""

    def __init__(self, root: Path, token: str):
        expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.seen_auth = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _backend(self):
                outer.seen_auth.append(self.headers.get("Authorization") == expected)
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                       "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                       "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_ADDR": "127.0.0.1"}
                out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=30).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
                status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() != "status":
                        self.send_header(key, value.strip())
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _backend

        outer = self
        self.base = self._serve(Handler)


@pytest.fixture(scope="module")
def served(tmp_path_factory, good_repo):
    root = tmp_path_factory.mktemp("git-server")
    subprocess.run(["git", "clone", "-q", "--bare", str(good_repo), str(root / "good.git")], check=True)
    # a team on `master` that pushed to an origin made with `main` (`wth ci init`'s): its HEAD names no branch
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(root / "master.git")], check=True)
    subprocess.run(["git", "-C", str(good_repo), "push", "-q", str(root / "master.git"), "main:master"], check=True)
    starter = build_repo(tmp_path_factory.mktemp("starter") / "starter", "starter")  # no tests: no pytest to wait for
    subprocess.run(["git", "clone", "-q", "--bare", str(starter), str(root / "starter.git")], check=True)
    http = GitHttp(root, FAKE_SECRET)
    with git_daemon(root) as base:
        yield {"root": root, "file": (root / "good.git").as_uri(), "daemon": f"{base}/master.git",
               "http": f"{http.base}/starter.git", "server": http}
    http.close()


def _grade(tmp_path, ws, repo, name="t", earlier=None):
    path = write_teams(tmp_path / f"{name}.yaml", [{"name": name, "workspace": str(ws.root), "endpoint": None, "repo": repo}])
    cfg = teams.load(path)
    session = Session(cfg)
    try:  # the checks that run the team's pytest are the sandbox tests' business
        return runner.grade_team(cfg.teams[0], session, exclude=frozenset(c.id for c in all_checks() if c.slow),
                                 earlier=earlier)
    finally:
        session.close()


def _repo_results(team):
    return {c: (team.result(c).status, team.result(c).points) for c in REPO_CHECKS_WITHOUT_PYTEST}


@pytest.mark.parametrize("kind", ["file", "daemon"])
def test_a_git_url_scores_what_the_local_clone_scores(tmp_path, full_ws, good_repo, served, kind):
    """Without `ref`, the branch `git clone` checks out: the remote's HEAD (file), or its only branch when
    HEAD names none (daemon: `master` only, HEAD `main`): a team on `master` scores as one on `main`."""
    local = _grade(tmp_path, full_ws, str(good_repo), "local")
    remote = _grade(tmp_path, full_ws, {"git": served[kind]}, "remote")
    assert _repo_results(remote) == _repo_results(local)
    assert {status for status, _ in _repo_results(local).values()} == {PASS}
    assert remote.score == local.score
    assert str(tmp_path / ".grader" / "repos" / teams.folder_name("remote")) in remote.result("C0.2").message


def test_a_new_push_is_fetched_on_the_next_grading(tmp_path, full_ws, good_repo, served):
    """... and only then are the repository's and workspace's checks run again: a pass on the same commit and
    store keeps their results (the very same), the endpoint's are run every pass."""
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", served["file"], str(work)], check=True)
    repo, earlier = {"git": served["file"], "ref": "main"}, runner.Earlier()
    first = _grade(tmp_path, full_ws, repo, earlier=earlier)
    again = _grade(tmp_path, full_ws, repo, earlier=earlier)
    kept = {r.id for r in again.results if r is first.result(r.id)}
    sources = {c.id: c.source for c in all_checks()}
    assert kept == {r.id for r in first.results if sources[r.id] != "endpoint" and r.status in runner.Earlier.KEPT}
    assert {"C0.2", "C1.1", "C2.4", "C5.4"} <= kept and "C3.1" not in kept
    assert again.result("C0.2").computed_at == first.graded_at
    (work / "NOTES.md").write_text("more work\n")
    commit_all(work, "more work")
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True)
    pushed = _grade(tmp_path, full_ws, repo, earlier=earlier)
    assert pushed.result("C0.2").evidence["commit"] != first.result("C0.2").evidence["commit"]
    assert (tmp_path / ".grader" / "repos" / teams.folder_name("t") / "NOTES.md").exists()
    assert not [r.id for r in pushed.results if r is again.result(r.id)]  # a new commit: every check runs again


def test_a_local_store_s_change_marker_moves_with_its_database(tmp_path):
    from grader.probes.mlflow import change_marker

    ref = teams.WorkspaceRef(path=tmp_path)
    missing = change_marker(ref)
    (tmp_path / "mlflow.db").write_bytes(b"v1")
    written = change_marker(ref)
    (tmp_path / "mlflow.db").write_bytes(b"v2 and more")
    assert missing == (None, None) and None not in {written, change_marker(ref)} and written != change_marker(ref)
    assert change_marker(teams.WorkspaceRef(tracking_uri="http://127.0.0.1:5000")) is None  # a remote store: no marker


def test_unreachable_repositories_and_unset_tokens_are_not_gradable(tmp_path, full_ws, served):
    missing = _grade(tmp_path, full_ws, {"git": served["file"], "ref": "no-such-branch"}).result("C0.2")
    assert missing.status == ERROR and "cannot get 'no-such-branch'" in missing.message
    unset = _grade(tmp_path, full_ws, {"git": served["http"], "ref": "main", "token_env": "WTH_UNSET_TOKEN"}).result("C2.1")
    assert unset.status == ERROR and "export WTH_UNSET_TOKEN" in unset.message


def test_a_remote_whose_head_names_no_branch_among_several_asks_for_ref(tmp_path, good_repo):
    from grader.probes.git import graded_branch

    bare = tmp_path / "two.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=trunk", str(bare)], check=True)
    subprocess.run(["git", "-C", str(good_repo), "push", "-q", str(bare), "main:master", "main:dev"], check=True)
    source = teams.RepoSource(git=bare.as_uri())
    with pytest.raises(NotGradable, match=r"its HEAD names no branch and it has 2 \(dev, master\): give the branch "
                                          r"as repo.ref"):
        graded_branch(source, timeout=20)
    assert graded_branch(teams.RepoSource(git=bare.as_uri(), ref="dev"), timeout=20) == "dev"


def test_a_token_reaches_git_and_nothing_else(tmp_path, full_ws, served):
    teams = write_teams(tmp_path / "teams.yaml", [
        {"name": "remote", "workspace": str(full_ws.root), "endpoint": None,
         "repo": {"git": served["http"], "ref": "main", "token_env": "WTH_TEST_GIT_TOKEN"}}])
    out = tmp_path / "out"
    done = run_cli("scoreboard", "--config", str(teams), "--json", str(out / "s.json"), "--junit", str(out / "s.xml"),
                   "--html", str(out / "s.html"), "--csv", str(out / "s.csv"), env={"WTH_TEST_GIT_TOKEN": FAKE_SECRET})
    assert done.returncode == 0, done.stderr
    assert served["server"].seen_auth and all(served["server"].seen_auth)  # the token was sent, on every request
    assert "C0.2,pass,5,5," in (out / "s.csv").read_text()
    encoded = base64.b64encode(f"x-access-token:{FAKE_SECRET}".encode()).decode()
    written = [p for p in (tmp_path / ".grader").rglob("*") if p.is_file()] + list(out.iterdir())
    assert any(p.name == "config" and ".git" in p.parts for p in written)  # the clone's own git config was read too
    for text in [done.stdout, done.stderr] + [p.read_bytes().decode("utf-8", "replace") for p in written]:
        assert FAKE_SECRET not in text and encoded not in text


def test_a_git_that_hangs_is_stopped_with_its_helpers(tmp_path):
    """A remote that accepts and never answers: past the timeout git and its `git-remote-http` are gone."""
    import psutil

    from grader.probes.git import GitFailed, git

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/team.git"
        with pytest.raises(GitFailed, match="did not finish within 2 s"):
            git(["clone", "--depth", "1", url, str(tmp_path / "clone")], timeout=2)
        left = [p for p in psutil.process_iter(["cmdline"]) if url in " ".join(p.info["cmdline"] or [])]
        assert left == [], [p.info["cmdline"] for p in left]


def test_the_token_is_configured_for_the_remotes_origin_only():
    """Real git's own URL matching on the grader's environment: the header for the remote's scheme, host and
    port, nothing for another host, another port or plain http to the same host."""
    from grader.probes.git import _env

    env = _env(FAKE_SECRET, "https://git.example/team/a.git")

    def header(url: str) -> str:
        done = subprocess.run(["git", "config", "--get-urlmatch", "http.extraHeader", url], env=env,
                              capture_output=True, text=True, timeout=20, check=False)
        return done.stdout.strip()

    encoded = base64.b64encode(f"x-access-token:{FAKE_SECRET}".encode()).decode()
    assert header("https://git.example/team/a.git") == f"Authorization: Basic {encoded}"
    assert header("https://git.example/other/b.git")  # the same server: a fetch of another path of it
    for elsewhere in ("https://evil.example/team/a.git", "https://git.example:8443/team/a.git",
                      "http://git.example/team/a.git"):
        assert header(elsewhere) == "", elsewhere


def test_what_cannot_be_pinned_is_graded_every_pass():
    """A remote store has no change marker and a local clone no pinned commit: the checks reading them
    run every pass; the team's tests, reading only the repository, stay kept by commit."""
    checks = {c.id: c for c in all_checks()}
    remote_store = {"settings": "s", "repo": "abc123", "workspace": None}
    local_clone = {"settings": "s", "repo": None, "workspace": ((1, 2), None)}
    assert runner.Earlier.key(checks["C2.2"], remote_store, {"C2.1": PASS}) == ("s", ("abc123",), (PASS,))
    assert runner.Earlier.key(checks["C2.4"], remote_store, {}) is None
    assert runner.Earlier.key(checks["C1.1"], local_clone, {"C0.1": PASS}) is None
    pinned = {"settings": "s", "repo": "abc123", "workspace": ((1, 2), None)}
    assert runner.Earlier.key(checks["C3.1"], pinned, {}) is None  # the endpoint: every pass


def test_over_ssh_no_key_of_the_coach_is_offered_but_the_teams_files(tmp_path, monkeypatch):
    """A team names an ssh:// host: the grader's ssh reads no config file and no agent, and offers no key but
    `repo.ssh_key` (ssh finds `~/.ssh` through the password database, not $HOME). What git ran is recorded by a
    stand-in `ssh`, then resolved by the real one (`ssh -G`: the configuration it would use, connecting nowhere)."""
    real_ssh = shutil.which("ssh")
    if real_ssh is None:
        pytest.skip("no ssh on this machine: the grader's ssh options cannot be resolved here")
    recorded = tmp_path / "argv"
    stand_in = tmp_path / "bin" / "ssh"
    stand_in.parent.mkdir()
    stand_in.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {recorded}\nexit 255\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}")
    key = tmp_path / "deploy_key"
    for ssh_key, offered in ((None, os.devnull), (key, str(key))):
        source = teams.RepoSource(git="ssh://git@127.0.0.1:1/team.git", ref="main", ssh_key=ssh_key)
        with pytest.raises(NotGradable, match="cannot get 'main' of ssh://git@127.0.0.1:1/team.git"):
            fetch(source, tmp_path / "clone", timeout=20)
        argv = recorded.read_text().splitlines()
        host = argv.index("git@127.0.0.1")
        resolved = subprocess.run([real_ssh, "-G", *argv[:host + 1]], capture_output=True, text=True, timeout=20, check=True)
        config = {}
        for line in resolved.stdout.splitlines():
            name, _, value = line.partition(" ")
            config.setdefault(name, []).append(value)
        assert config["identityfile"] == [offered] and config["identitiesonly"] == ["yes"], resolved.stdout
        assert config["identityagent"] == ["none"] and config["batchmode"] == ["yes"] and config["port"] == ["1"]
