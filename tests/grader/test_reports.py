"""The reports of a real grading through the CLI: JSON (schema wth-grader/1 exactly as DESIGN.md),
JUnit XML, a self-contained HTML scoreboard, the terminal table; no secret in any of them; history."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from endpoints import ContractEndpoint
from grader_tools import FAKE_SECRET, run_cli, write_teams

from grader import history
from grader.checks import all_checks
from grader.runner import CheckResult, TeamResult

CHECK = {"type": "object", "additionalProperties": False,
         "required": ["id", "title", "status", "points", "max_points", "message", "hint", "evidence", "duration_s"],
         "properties": {"id": {"type": "string", "pattern": r"^C[0-5]\.\d+$"}, "title": {"type": "string"},
                        "status": {"enum": ["pass", "fail", "error", "skipped"]}, "points": {"type": "integer"},
                        "max_points": {"type": "integer"}, "message": {"type": "string"},
                        "hint": {"type": "string", "pattern": r"^Student/Challenge-0[0-5]\.md#"},
                        "evidence": {"type": "object"}, "duration_s": {"type": "number"}}}
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["schema", "event", "generated_at", "teams"],
          "properties": {"schema": {"const": "wth-grader/1"}, "event": {"type": "string"},
                         "generated_at": {"type": "string"},
                         "teams": {"type": "array", "items": {
                             "type": "object", "additionalProperties": False,
                             "required": ["name", "score", "max_score", "challenges"],
                             "properties": {"name": {"type": "string"}, "score": {"type": "integer"},
                                            "max_score": {"type": "integer"},
                                            "challenges": {"type": "array", "items": {
                                                "type": "object", "additionalProperties": False,
                                                "required": ["id", "title", "checks"],
                                                "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                               "checks": {"type": "array", "items": CHECK}}}}}}}}}


@pytest.fixture(scope="module")
def scoreboard(tmp_path_factory, trained_ws, empty_ws, good_repo):
    folder = tmp_path_factory.mktemp("scoreboard")
    echo = ContractEndpoint("echo")
    teams = write_teams(folder / "teams.yaml", [
        {"name": "trained", "workspace": str(trained_ws.root), "repo": str(good_repo),
         "endpoint": {"uri": echo.uri, "key_env": "WTH_TEST_KEY"}},
        {"name": "empty", "workspace": str(empty_ws.root), "endpoint": None, "repo": None},
    ])
    out = folder / "out"
    done = run_cli("scoreboard", "--config", str(teams), "--json", str(out / "s.json"), "--junit", str(out / "s.xml"),
                   "--html", str(out / "s.html"), env={"WTH_TEST_KEY": FAKE_SECRET})
    echo.close()
    assert any(FAKE_SECRET in h.get("Authorization", "") for h in echo.seen_headers)  # the key was really sent
    return done, out, folder


def test_scoreboard_exits_0_and_prints_the_table(scoreboard):
    done = scoreboard[0]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "team", "score"]
    assert re.match(r"\s*1\s+trained\s+\d+/\d+", lines[2]) and re.match(r"\s*2\s+empty\s+\d+/\d+", lines[3])
    assert "[2/2]" in done.stderr  # progress per team


def test_json_report_matches_the_contract(scoreboard):
    report = json.loads((scoreboard[1] / "s.json").read_text())
    jsonschema.validate(report, SCHEMA)
    trained = report["teams"][0]
    ids = [c["id"] for ch in trained["challenges"] for c in ch["checks"]]
    assert ids == [c.id for c in all_checks()]
    assert trained["score"] == sum(c["points"] for ch in trained["challenges"] for c in ch["checks"])
    assert trained["max_score"] == sum(c.points for c in all_checks())
    assert [ch["id"] for ch in trained["challenges"]] == ["00", "01", "02", "03", "04", "05"]


def test_junit_has_one_case_per_check_with_failures(scoreboard):
    root = ET.parse(scoreboard[1] / "s.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["trained", "empty"]
    cases = suites[1].findall("testcase")
    assert len(cases) == len(all_checks())
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suites[1].get("failures")) == len(failures) > 0
    assert cases[0].get("name").startswith("C0.1 ")


def test_html_is_self_contained_with_ranking_and_drill_down(scoreboard):
    html = (scoreboard[1] / "s.html").read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=[\"']https?:|@import|src=[\"']https?:", html)
    assert html.index('data-team="trained"') < html.index('data-team="empty"')
    assert 'data-check="C3.2"' in html and "Student/Challenge-03.md#success-criteria" in html
    assert "evidence" in html


def test_no_secret_in_any_output(scoreboard):
    done, out, folder = scoreboard
    texts = [done.stdout, done.stderr] + [p.read_text() for p in out.iterdir()]
    assert all(FAKE_SECRET not in text for text in texts)
    report = json.loads((out / "s.json").read_text())
    c32 = next(c for ch in report["teams"][0]["challenges"] for c in ch["checks"] if c["id"] == "C3.2")
    assert c32["status"] == "fail" and "***" in c32["message"]  # the echoed key was redacted, not dropped


def test_history_is_recorded_in_the_grader_folder(scoreboard):
    folder = scoreboard[2] / ".grader"
    assert (folder / "history.db").exists()


def _team(name, statuses, at):
    results = [CheckResult(c.id, c.title, c.challenge, statuses.get(c.id, "fail"),
                           c.points if statuses.get(c.id) == "pass" else 0, c.points, "", c.hint, {}, 0.0)
               for c in all_checks()]
    return TeamResult(name, results, at.isoformat(timespec="seconds"), 1.0)


def test_first_passed_and_stuck(tmp_path):
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    history.record(tmp_path, [_team("a", {"C0.1": "pass"}, t0), _team("b", {}, t0)])
    later = [_team("a", {"C0.1": "pass", "C0.2": "pass"}, t0 + timedelta(minutes=50)), _team("b", {}, t0 + timedelta(minutes=50))]
    history.record(tmp_path, later)
    marks = history.summary(tmp_path, later, stuck_after_min=45, now=t0 + timedelta(minutes=60))
    assert marks["a"]["first_passed"] == {"C0.1": "2026-11-26T09:00:00+00:00", "C0.2": "2026-11-26T09:50:00+00:00"}
    assert marks["a"]["stuck"] is None
    assert "no new criterion passed for 60 min" in marks["b"]["stuck"]


def test_docs_url_makes_hints_clickable():
    from grader import report

    team = _team("a", {}, datetime(2026, 11, 26, tzinfo=timezone.utc))
    html = report.render_html("e", [team], docs_url="https://github.com/contoso/wth/blob/main")
    assert 'href="https://github.com/contoso/wth/blob/main/Student/Challenge-00.md#success-criteria"' in html
