"""Every grading, stored in a sqlite file in the coach's grader folder (`.grader/history.db`).

From it the scoreboard shows when each team first passed each criterion, flags a team as stuck
when it has gained no new criterion for longer than `stuck_after_min` minutes while grading went on,
charts each team's points over the event, and names the first team to pass each challenge.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from .results import PASS, Progress, TeamResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS gradings (id INTEGER PRIMARY KEY, team TEXT NOT NULL, graded_at TEXT NOT NULL,
                                     score INTEGER NOT NULL, max_score INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results (grading_id INTEGER NOT NULL REFERENCES gradings(id), check_id TEXT NOT NULL,
                                    status TEXT NOT NULL, points INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS first_passed (team TEXT NOT NULL, check_id TEXT NOT NULL, at TEXT NOT NULL,
                                         PRIMARY KEY (team, check_id));
"""
FILE = "history.db"


def _connect(folder: Path) -> sqlite3.Connection:
    folder.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(folder / FILE, timeout=10)
    con.executescript(SCHEMA)
    return con


def record(folder: Path, teams: list[TeamResult]) -> None:
    with closing(_connect(folder)) as con, con:
        for team in teams:
            cur = con.execute("INSERT INTO gradings (team, graded_at, score, max_score) VALUES (?, ?, ?, ?)",
                              (team.name, team.graded_at, team.score, team.max_score))
            con.executemany("INSERT INTO results VALUES (?, ?, ?, ?)",
                            [(cur.lastrowid, r.id, r.status, r.points) for r in team.results])
            con.executemany("INSERT OR IGNORE INTO first_passed VALUES (?, ?, ?)",
                            [(team.name, r.id, team.graded_at) for r in team.results if r.status == PASS])


def _minutes(since: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(since)).total_seconds() / 60


def progress(folder: Path, teams: list[TeamResult], stuck_after_min: float, now: datetime | None = None) -> Progress:
    """Everything the reports show from the history, for `teams` (graded and recorded): first-passed times,
    stuck flags, the points over the event and the first team to pass each challenge."""
    now = now or datetime.now(UTC)
    out = Progress()
    with closing(_connect(folder)) as con:
        for team in teams:
            first = dict(con.execute("SELECT check_id, at FROM first_passed WHERE team = ?", (team.name,)).fetchall())
            (started,) = con.execute("SELECT MIN(graded_at) FROM gradings WHERE team = ?", (team.name,)).fetchone()
            last_progress = max(first.values(), default=started)
            out.first_passed[team.name] = first
            if last_progress and team.score < team.max_score and not team.reference:
                idle = _minutes(last_progress, now)
                if idle > stuck_after_min:
                    out.stuck[team.name] = f"no new criterion passed for {idle:.0f} min (since {last_progress})"
            out.timeline[team.name] = list(reversed(con.execute(
                "SELECT graded_at, score FROM gradings WHERE team = ? ORDER BY graded_at DESC LIMIT ?",
                (team.name, MAX_POINTS_PER_TEAM)).fetchall()))
    out.first_to_pass = _first_to_pass(out.first_passed, teams)
    return out


MAX_POINTS_PER_TEAM = 500  # the chart keeps the newest gradings of a long event


def _first_to_pass(first_passed: dict[str, dict[str, str]], teams: list[TeamResult]) -> dict[int, tuple[str, str]]:
    """{challenge: (team, when)}: the first team (the reference is none) whose every check of that challenge
    had passed (a challenge counts as passed when its last check first passed)."""
    if not teams:
        return {}
    by_challenge: dict[int, list[str]] = {}
    for r in teams[0].results:
        by_challenge.setdefault(r.challenge, []).append(r.id)
    out = {}
    for number, ids in sorted(by_challenge.items()):
        done = []
        for team in teams:
            first = first_passed.get(team.name, {}) if not team.reference else {}
            if all(i in first for i in ids):
                done.append((max(first[i] for i in ids), team.name))
        if done:
            when, name = min(done)
            out[number] = (name, when)
    return out
