"""`wth-grader watch --serve`: regrades on an interval and serves the auto-refreshing scoreboard;
a headless Chromium opens the served page and sees what a coach sees."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests
from grader_tools import REPO_ROOT, write_teams

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
                                "--serve", "0"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url, deadline = None, time.monotonic() + 120
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("serving "):
            url = line.split()[1]
    try:
        assert url, f"watch never served: {process.stderr.read() if process.poll() is not None else ''}"
        yield url, folder, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_served_page_auto_refreshes_and_ranks(watching):
    url, folder, _ = watching
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="5">' in page.text
    assert page.text.index('data-team="trained"') < page.text.index('data-team="empty"')
    assert requests.get(url + "scoreboard.json", timeout=5).json()["schema"] == "wth-grader/1"
    assert requests.get(url + "history.db", timeout=5).status_code == 404  # only the page and its JSON
    assert (folder / "coach" / "history.db").exists()


def test_watch_regrades_on_its_interval(watching):
    _, folder, _ = watching
    import sqlite3

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(folder / "coach" / "history.db") as con:
            (count,) = con.execute("SELECT COUNT(*) FROM gradings WHERE team = 'empty'").fetchone()
        if count >= 2:
            return
        time.sleep(1)
    pytest.fail("watch graded only once in 60 s with --interval 5")


def test_chromium_shows_the_scoreboard(watching, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no `chromium` on PATH (Debian package chromium; .ci/run installs it): the browser test did not run")
    url = watching[0]
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(tmp_path)})
    dom = done.stdout
    assert "Test hack" in dom and "Scoreboard generated" in dom
    assert dom.index('data-team="trained"') < dom.index('data-team="empty"')
    assert 'data-check="C1.3"' in dom
