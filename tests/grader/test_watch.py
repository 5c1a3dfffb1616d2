"""`wth-grader watch --serve`: serves its page at once, regrades on an interval with the teams file as
it is now, and serves the auto-refreshing scoreboard and the challenge documents its hints link to;
a headless Chromium opens the served page and sees what a coach sees."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from grader_tools import REPO_ROOT, write_teams

from grader import cli, serving

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def watching(tmp_path_factory, trained_ws, empty_ws):
    folder = tmp_path_factory.mktemp("watch")
    teams = write_teams(folder / "teams.yaml", [
        {"name": "trained", "workspace": str(trained_ws.root), "endpoint": None, "repo": None},
        {"name": "empty", "workspace": str(empty_ws.root), "endpoint": None, "repo": None},
    ], grader_dir=str(folder / "coach"))
    process = subprocess.Popen([sys.executable, "-m", "grader", "watch", "--config", str(teams), "--interval", "5",
                                "--serve", "0", "--handin"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url, before, deadline = None, [], time.monotonic() + 120
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("serving "):
            url = line.split()[1]
        before.append(line)
    try:
        assert url, f"watch never served: {process.stderr.read() if process.poll() is not None else ''}"
        yield url, folder, process, before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_page_is_served_before_the_first_pass_ends(watching):
    url, _, _, before = watching
    assert not [line for line in before if line.startswith("graded ")], before  # "serving" came first
    assert "Test hack" in requests.get(url, timeout=5).text  # "first pass running", or the first pass's scoreboard


def test_served_page_auto_refreshes_and_ranks(watching):
    url, folder, _, _ = watching
    _scoreboard(url)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="5">' in page.text
    assert page.text.index('data-team="trained"') < page.text.index('data-team="empty"')
    assert requests.get(url + "scoreboard.json", timeout=5).json()["schema"] == "wth-grader/1"
    assert requests.get(url + "history.db", timeout=5).status_code == 404  # only the page and its JSON
    assert (folder / "coach" / "history.db").exists()


def _scoreboard(url: str) -> str:
    """The served page once it shows the first pass's scoreboard (60 s at most)."""
    deadline, page = time.monotonic() + 60, ""
    while 'data-team="' not in page and time.monotonic() < deadline:
        page = requests.get(url, timeout=5).text
        time.sleep(0.5)
    return page


def _passes(folder, team: str, count: int) -> None:
    """Waits (60 s at most) for `count` gradings of `team` in the history."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (folder / "coach" / "history.db").exists():
            with sqlite3.connect(folder / "coach" / "history.db") as con:
                (done,) = con.execute("SELECT COUNT(*) FROM gradings WHERE team = ?", (team,)).fetchone()
            if done >= count:
                return
        time.sleep(1)
    pytest.fail(f"watch graded {team} fewer than {count} time(s) in 60 s with --interval 5")


def test_watch_regrades_on_its_interval(watching):
    _passes(watching[1], "empty", 2)


def test_a_team_handed_in_by_the_form_is_graded_on_the_next_pass_once_admitted(watching, capsys):
    url, folder, process, _ = watching
    said = process.stdout.readline()  # the line after "serving ...", which the fixture read up to
    assert said.startswith(f"hand-in form: {url.rstrip('/')}{serving.FORM}; the entries wait in "), said
    form = url.rstrip("/") + serving.FORM
    answer = requests.post(form, data={"name": "handed in", "workspace": "http://127.0.0.1:1"}, timeout=60)
    assert answer.status_code == 200 and 'data-part="workspace"><td>workspace</td><td class="not-ok">' in answer.text
    assert cli.main(["admit", "--pending", "--anyway", "--config", str(folder / "teams.yaml")]) == 0
    assert "admitted 'handed in'" in capsys.readouterr().out
    _passes(folder, "handed in", 1)


def test_the_teams_file_is_reread_every_pass_and_a_bad_edit_keeps_the_last_good_one(watching, empty_ws):
    url, folder, _, _ = watching
    path = folder / "teams.yaml"
    good = path.read_text()
    entries = yaml.safe_load(good)
    entries["teams"].append({"name": "latecomer", "workspace": str(empty_ws.root), "endpoint": None, "repo": None})
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    _passes(folder, "latecomer", 1)  # added mid-event: graded on the next pass, no restart
    path.write_text(path.read_text() + "  - name: [unclosed\n")
    try:
        deadline, page = time.monotonic() + 60, ""
        while "the teams file was not re-read" not in page and time.monotonic() < deadline:
            time.sleep(1)
            page = requests.get(url, timeout=5).text
        assert "the teams file was not re-read, the last good one is graded" in page and "not valid YAML" in page
        assert 'data-team="latecomer"' in page and 'data-team="trained"' in page
    finally:
        path.write_text(good)


def _status(url: str, path: str, method: str = "GET") -> tuple[int, str]:
    """The status and content type of `path` requested as written (no client normalizes its dots away)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request(method, path)
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheader("Content-Type", "")
    finally:
        connection.close()


def test_the_hints_open_the_challenge_documents_served_by_watch(watching):
    url = watching[0]
    hint = re.search(r'<a href="(Student/Challenge-\d\d\.md)#([\w-]+)"', _scoreboard(url))
    assert hint, "no hint links to Student/ on the page"
    doc = requests.get(url + hint[1], timeout=5)
    assert doc.status_code == 200 and doc.headers["Content-Type"].startswith("text/html")
    assert f'id="{hint[2]}"' in doc.text  # the anchor the hint names is a heading of the rendered document
    assert _status(url, "/Student/images/scoreboard.png") == (200, "image/png")
    for path in ("/Student/../setup.cfg", "/Student/%2e%2e/setup.cfg", "/Student/..%2fsetup.cfg", "/Student/images",
                 "/Student/%2fetc%2fpasswd", "/Student/Challenge-01.md%00.png", "/grader/teams.py", "/teams.yaml",
                 "/coach/history.db", "/history.db"):
        assert _status(url, path)[0] == 404, path
        assert _status(url, path, "HEAD")[0] == 404, path


def test_chromium_shows_the_scoreboard(watching, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no `chromium` on PATH (Debian package chromium; .ci/run installs it): the browser test did not run")
    url = watching[0]
    _scoreboard(url)
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(tmp_path)})
    dom = done.stdout
    assert "Test hack" in dom and "Scoreboard generated" in dom
    assert dom.index('data-team="trained"') < dom.index('data-team="empty"')
    assert 'data-check="C1.3"' in dom
