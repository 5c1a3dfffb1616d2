"""The reports of a real grading through the CLI: JSON (schema wth-grader/1 exactly as docs/contracts.md),
JUnit XML, a self-contained HTML scoreboard, the terminal table; no secret in any of them; history."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from endpoints import ContractEndpoint
from grader_tools import FAKE_SECRET, REPO_ROOT, build_repo, run_cli, write_teams

from grader import history
from grader.checks import all_checks
from grader.results import CheckResult, TeamResult

CHECK = {"type": "object", "additionalProperties": False,
         "required": ["id", "title", "status", "points", "max_points", "message", "hint", "evidence", "duration_s",
                      "computed_at"],
         "properties": {"id": {"type": "string", "pattern": r"^C[0-5]\.\d+$"}, "title": {"type": "string"},
                        "status": {"enum": ["pass", "fail", "error", "crash", "skipped"]}, "points": {"type": "number"},
                        "max_points": {"type": "integer"}, "message": {"type": "string"},
                        "hint": {"type": "string", "pattern": r"^Student/Challenge-0[0-5]\.md#"},
                        "evidence": {"type": "object"}, "duration_s": {"type": "number"},
                        "computed_at": {"type": "string"}}}
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["schema", "event", "generated_at", "teams"],
          "properties": {"schema": {"const": "wth-grader/1"}, "event": {"type": "string"},
                         "generated_at": {"type": "string"},
                         "teams": {"type": "array", "items": {
                             "type": "object", "additionalProperties": False,
                             "required": ["name", "score", "max_score", "graded_at", "challenges"],
                             "properties": {"name": {"type": "string"}, "reference": {"const": True},
                                            "score": {"type": "number"}, "graded_at": {"type": "string"},
                                            "max_score": {"type": "integer"},
                                            "challenges": {"type": "array", "items": {
                                                "type": "object", "additionalProperties": False,
                                                "required": ["id", "title", "checks"],
                                                "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                               "checks": {"type": "array", "items": CHECK}}}}}}}}}


@pytest.fixture(scope="module")
def scoreboard(tmp_path_factory, trained_ws, empty_ws):
    folder = tmp_path_factory.mktemp("scoreboard")
    starter = build_repo(folder / "starter", "starter")  # no tests: the reports' shape needs no pytest run
    echo = ContractEndpoint("echo")
    teams = write_teams(folder / "teams.yaml", [
        {"name": "trained", "workspace": str(trained_ws.root), "repo": str(starter),
         "endpoint": {"uri": echo.uri, "key_env": "WTH_TEST_KEY"}},
        {"name": "empty", "workspace": str(empty_ws.root), "endpoint": None, "repo": None},
    ])
    out = folder / "out"
    done = run_cli("scoreboard", "--config", str(teams), "--json", str(out / "s.json"), "--junit", str(out / "s.xml"),
                   "--html", str(out / "s.html"), "--csv", str(out / "s.csv"), env={"WTH_TEST_KEY": FAKE_SECRET})
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


def test_csv_has_one_row_per_team_and_check(scoreboard):
    import csv

    rows = list(csv.DictReader((scoreboard[1] / "s.csv").open()))
    assert list(rows[0]) == ["team", "check_id", "status", "points", "max_points", "first_passed_at"]
    assert len(rows) == 2 * len(all_checks()) and [r["team"] for r in rows[::len(all_checks())]] == ["trained", "empty"]
    c01 = next(r for r in rows if r["team"] == "trained" and r["check_id"] == "C0.1")
    assert c01["status"] == "pass" and c01["points"] == c01["max_points"] == "5"
    assert datetime.fromisoformat(c01["first_passed_at"]).tzinfo is not None
    failing = next(r for r in rows if r["team"] == "empty" and r["check_id"] == "C1.3")
    assert failing["status"] == "fail" and failing["points"] == "0" and failing["first_passed_at"] == ""


def test_the_help_and_the_reports_load_no_engine():
    """`wth-grader --help`, the reports and the history import the result model, not the runner (nor through it the
    checks, their probes and MLflow): a fresh interpreter shows what they pulled in."""
    probe = subprocess.run([sys.executable, "-c", "import contextlib, io, sys\n"
                            "from grader import cli, history, scoreboard\n"
                            "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
                            "    cli.main(['--help'])\n"
                            "assert 'scoreboard' in out.getvalue()\n"
                            "print(sorted(m for m in ('mlflow', 'pandas', 'grader.runner', 'grader.checks') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stdout + probe.stderr


def test_history_is_recorded_in_the_grader_folder(scoreboard):
    folder = scoreboard[2] / ".grader"
    assert (folder / "history.db").exists()


def _team(name, statuses, at, points=None, reference=False):
    results = [CheckResult(c.id, c.title, c.challenge, statuses.get(c.id, "fail"),
                           (points or {}).get(c.id, c.points if statuses.get(c.id) == "pass" else 0), c.points, "",
                           c.hint, {}, 0.0)
               for c in all_checks()]
    return TeamResult(name, results, at.isoformat(timespec="seconds"), 1.0, reference=reference)


def test_first_passed_and_stuck(tmp_path):
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    history.record(tmp_path, [_team("a", {"C0.1": "pass"}, t0), _team("b", {}, t0)])
    later = [_team("a", {"C0.1": "pass", "C0.2": "pass"}, t0 + timedelta(minutes=50)), _team("b", {}, t0 + timedelta(minutes=50))]
    history.record(tmp_path, later)
    marks = history.progress(tmp_path, later, stuck_after_min=45, now=t0 + timedelta(minutes=60))
    assert marks.first_passed["a"] == {"C0.1": "2026-11-26T09:00:00+00:00", "C0.2": "2026-11-26T09:50:00+00:00"}
    assert "a" not in marks.stuck
    assert "no new criterion passed for 60 min" in marks.stuck["b"]


def test_docs_url_makes_hints_clickable():
    from grader import scoreboard

    team = _team("a", {}, datetime(2026, 11, 26, tzinfo=UTC))
    html = scoreboard.render_html("e", [team], docs_url="https://github.com/contoso/wth/blob/main")
    assert 'href="https://github.com/contoso/wth/blob/main/Student/Challenge-00.md#success-criteria"' in html


def test_partial_credit_and_crashes_in_every_report(tmp_path):
    from grader import scoreboard

    team = _team("a", {"C0.1": "pass", "C0.2": "crash"}, datetime(2026, 11, 26, tzinfo=UTC), {"C2.3": 4.3})
    assert team.score == 9.3
    assert scoreboard.table([team]).splitlines()[2].split()[2].startswith("9.3/")
    assert "◐" in scoreboard.table([team]) and "‼" in scoreboard.table([team])
    assert "  ◐ C2.3  fail     4.3/10" in scoreboard.details(team)
    junit = ET.fromstring(scoreboard.to_junit("e", [team]))
    cases = {c.get("name").split()[0]: c for c in junit.iter("testcase")}
    assert cases["C2.3"].find("failure").get("message").startswith("partial credit 4.3/10")
    assert cases["C0.2"].find("error").get("message").startswith("grader crash (not the team's)")
    assert junit.find("testsuite").get("errors") == "1"
    checks = [c for ch in scoreboard.to_json("e", [team])["teams"][0]["challenges"] for c in ch["checks"]]
    assert {c["id"]: c["points"] for c in checks}["C2.3"] == 4.3
    assert "a,C2.3,fail,4.3,10," in scoreboard.to_csv([team])
    html = scoreboard.render_html("e", [team])
    assert 'data-check="C2.3" data-status="fail"' in html and "4.3/10" in html and 'data-status="crash"' in html


def test_the_page_charts_points_over_time_and_names_first_to_pass(tmp_path):
    from grader import scoreboard

    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    c0 = [c.id for c in all_checks() if c.challenge == 0]
    history.record(tmp_path, [_team("a", {}, t0), _team("b", {}, t0)])
    history.record(tmp_path, [_team("a", {}, t0 + timedelta(hours=1)), _team("b", dict.fromkeys(c0, "pass"), t0 + timedelta(hours=1))])
    last = [_team("a", dict.fromkeys(c0, "pass"), t0 + timedelta(hours=2)), _team("b", dict.fromkeys(c0, "pass"), t0 + timedelta(hours=2))]
    history.record(tmp_path, last)
    marks = history.progress(tmp_path, last, 45, now=t0 + timedelta(hours=2))
    assert marks.first_to_pass == {0: ("b", (t0 + timedelta(hours=1)).isoformat())}
    assert [score for _, score in marks.timeline["b"]] == [0, 10, 10] and len(marks.timeline["a"]) == 3
    html = scoreboard.render_html("e", last, marks)
    chart = re.search(r'<svg class="chart" id="points-over-time".*?</svg>', html, re.S).group(0)
    lines = dict(re.findall(r'<polyline data-team="(\w+)"[^>]*points="([^"]+)"', chart))
    assert set(lines) == {"a", "b"}
    ys = {team: [float(p.split(",")[1]) for p in pts.split()] for team, pts in lines.items()}
    assert ys["b"][0] > ys["b"][1] == ys["b"][2] and ys["a"][1] > ys["a"][2]  # points rise: y goes up the page
    first = re.search(r'<table id="first-to-pass">.*?</table>', html, re.S).group(0)
    assert re.search(r'data-challenge="0"><td>C0 [^<]*</td><td>b</td>', first)


def test_the_reference_team_is_graded_and_shown_apart_never_ranked(tmp_path):
    """The coach's reference (`reference: true`) passes everything first, yet ranks nowhere, is first to pass
    nothing, and is never stuck; every report shows it, apart."""
    from grader import scoreboard

    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    everything = {c.id: "pass" for c in all_checks()}
    c0 = {c.id: "pass" for c in all_checks() if c.challenge == 0}
    history.record(tmp_path, [_team("ref", everything, t0, reference=True), _team("a", {}, t0), _team("b", {}, t0)])
    room = [_team("ref", everything, t0 + timedelta(hours=2), reference=True), _team("a", c0, t0 + timedelta(hours=2)),
            _team("b", {}, t0 + timedelta(hours=2))]
    history.record(tmp_path, room)
    marks = history.progress(tmp_path, room, 45, now=t0 + timedelta(hours=2))
    assert marks.first_to_pass == {0: ("a", (t0 + timedelta(hours=2)).isoformat())} and set(marks.stuck) == {"b"}
    assert [t.name for t in scoreboard.ranked(room)] == ["a", "b"]
    lines = scoreboard.table(room).splitlines()
    assert [line.split()[:2] for line in lines[2:5]] == [["1", "a"], ["2", "b"], ["ref", "ref"]]
    teams = scoreboard.to_json("e", room)["teams"]
    jsonschema.validate(scoreboard.to_json("e", room), SCHEMA)
    assert [t.get("reference") for t in teams] == [True, None, None]
    html = scoreboard.render_html("e", room, marks)
    apart = re.search(r'<tbody class="apart".*?</tbody>', html, re.S).group(0)
    assert 'data-team="ref"' in apart and '<td class="rank">ref</td>' in apart and 'data-team="a"' not in apart
    assert html.index('data-team="ref"') < html.index('data-team="a"') < html.index('data-team="b"')
    assert re.search(r'<tr class="team-row" data-team="a">\s*<td class="rank">1</td>', html)
    assert "2 team(s) + reference" in html


def test_the_chart_of_a_room_draws_its_leaders_and_its_median_on_axes_of_points_and_local_time(tmp_path):
    """12 teams: 12 lines would be unreadable, so the chart draws the 5 leading teams (each its own dash, not only
    its colour) and the room's median, over ticks of points and of the grading machine's local time."""
    from grader import scoreboard

    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    checks = [c.id for c in all_checks()]
    for hour in range(3):
        room = [_team(f"t{n:02d}", dict.fromkeys(checks[:n + hour], "pass"), t0 + timedelta(hours=hour))
                for n in range(12)]
        history.record(tmp_path, room)
    html = scoreboard.render_html("e", room, history.progress(tmp_path, room, 45, now=t0 + timedelta(hours=2)))
    chart = re.search(r'<svg class="chart" id="points-over-time".*?</svg>', html, re.S).group(0)
    drawn = re.findall(r'<polyline data-team="(\w+)"([^>]*)>', chart)
    leaders = [t.name for t in scoreboard.ranked(room)][:5]
    assert [team for team, _ in drawn] == leaders == ["t11", "t10", "t09", "t08", "t07"]
    dashes = {tuple(re.findall(r'stroke-dasharray="([^"]+)"', attributes)) for _, attributes in drawn}
    assert len(dashes) == 5  # not by colour alone
    median = re.search(r'<polyline class="median"[^>]*points="([^"]+)"', chart).group(1).split()
    # the median of 12 teams scoring the points of their first n + hour checks: at the end, that of t05 and t06
    expected = (room[5].score + room[6].score) / 2
    assert f"median of 12 teams ({expected:g})" in chart
    end = scoreboard.CHART_H * (1 - expected / room[0].max_score)
    assert float(median[-1].split(",")[1]) == pytest.approx(end, abs=0.1)
    for hour in range(3):
        assert f">{(t0 + timedelta(hours=hour)).astimezone().strftime('%H:%M')}</text>" in chart
    assert f">{room[0].max_score}</text>" in chart and ">0</text>" in chart and "local time (" in chart


def test_sources_grade_only_the_checks_that_look_at_them(tmp_path, empty_ws, capsys):
    """`--source workspace --source endpoint` (the demo's grading of the reference) leaves the repository checks out
    of the report instead of failing them; a source that does not exist is refused with one line."""
    from grader import cli

    teams = write_teams(tmp_path / "teams.yaml", [{"name": "empty", "workspace": str(empty_ws.root), "endpoint": None,
                                                   "repo": None}])
    out = tmp_path / "s.json"
    assert cli.main(["scoreboard", "--source", "workspace", "--source", "endpoint", "--config", str(teams), "--json", str(out)]) == 0
    checks = {c["id"]: c for ch in json.loads(out.read_text())["teams"][0]["challenges"] for c in ch["checks"]}
    by_source = {c.id: c.source for c in all_checks()}
    assert set(checks) == {cid for cid, source in by_source.items() if source != "repo"}
    assert cli.main(["scoreboard", "--config", str(teams), "--json", str(out)]) == 0
    assert {c["id"] for ch in json.loads(out.read_text())["teams"][0]["challenges"] for c in ch["checks"]} == set(by_source)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        cli.main(["scoreboard", "--config", str(teams), "--source", "repos"])
    assert refused.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'workspace', 'endpoint', 'repo'" in err and "'repos'" in err


HOSTILE_TEXT = ("\x1b[2J\x1b[H\x1b]0;window title\x07\x1b]52;c;cHduZWQ=\x07\x01\x7f\x9b\u202egnp.exe\ud800"
                "\n  ✔ C0.1  pass       5/5 forged line\r")
FORMULAS = ('=HYPERLINK("http://evil.example/","x")', "+1+1", "-1+1", "@SUM(A1)", "\tpadded", "\rreturn")


def _said(name: str, message: str, evidence: dict | None = None) -> TeamResult:
    """A team whose every check failed with `message` (and `evidence`)."""
    team = _team(name, {}, datetime(2026, 11, 26, tzinfo=UTC))
    for r in team.results:
        r.message, r.evidence = message, evidence or {}
    return team


def test_team_text_with_control_characters_reaches_no_medium_raw():
    """ESC sequences (a cleared screen, a window title, an OSC 52 clipboard write), C0/C1 controls, a
    bidirectional override, a lone surrogate and a forged line: shown as escapes in the terminal, JUnit is
    XML 1.0 that parses, the page and the CSV carry none of them raw."""
    from grader import escaping, scoreboard

    hostile = _said(f"evil{HOSTILE_TEXT[:12]}", HOSTILE_TEXT, {"said": HOSTILE_TEXT})
    honest = _team("honest", {}, datetime(2026, 11, 26, tzinfo=UTC))
    raw = escaping.UNSAFE
    for text in (scoreboard.table([hostile, honest]), scoreboard.details(hostile)):
        assert not raw.search(text.replace("\n", "")), "a control character reached the terminal"
    assert len(scoreboard.details(hostile).splitlines()) == len(scoreboard.details(honest).splitlines())
    assert "\\x1b]52;c;cHduZWQ=\\x07" in scoreboard.details(hostile) and "\\u202e" in scoreboard.details(hostile)
    junit = scoreboard.to_junit("e", [hostile, honest])
    parsed = ET.fromstring(junit.encode("utf-8"))  # expat refuses any character XML 1.0 does not allow
    failure = parsed.find("testsuite/testcase/failure")
    assert "\\x1b[2J" in failure.get("message") and "\\x01" in failure.text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", junit)
    html = scoreboard.render_html("e", [hostile, honest])
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]", html) and "\\x1b]0;window title" in html
    html.encode("utf-8")  # no lone surrogate left
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", scoreboard.to_csv([hostile, honest]))


def test_the_json_report_keeps_team_text_as_it_was(tmp_path):
    """Data, not a display: every character comes back as the team wrote it, a lone surrogate included."""
    from grader import scoreboard

    scoreboard.write_json(tmp_path / "s.json", "e", [_said("evil", HOSTILE_TEXT, {"said": HOSTILE_TEXT})])
    check = json.loads((tmp_path / "s.json").read_text())["teams"][0]["challenges"][0]["checks"][0]
    assert check["message"] == check["evidence"]["said"] == HOSTILE_TEXT


@pytest.mark.parametrize("name", FORMULAS)
def test_a_csv_cell_a_spreadsheet_would_evaluate_is_text(name):
    import csv
    import io

    from grader import scoreboard

    rows = list(csv.DictReader(io.StringIO(scoreboard.to_csv([_said(name, "m")]))))
    assert {row["team"] for row in rows} == {"'" + name.replace("\r", "\\x0d")}


def test_an_honest_teams_reports_are_unchanged_by_the_escaping():
    """Accents, symbols, a dash inside a name, quotes, a tab and a newline in a message: as they were."""
    from grader import scoreboard

    name, message = "Équipe ✔ café-1", 'assert 3 == 4: "forecast" off by 12.5 %\twithin\tbounds'
    team = _said(name, message, {"tail": "line 1\nline 2"})
    assert f"{name}: 0/" in scoreboard.details(team) and f": {message}" in scoreboard.details(team)
    assert re.search(rf"^  1  {name}\s+0/", scoreboard.table([team]).splitlines()[2])
    failure = ET.fromstring(scoreboard.to_junit("e", [team])).find("testsuite/testcase/failure")
    assert failure.get("message") == message and failure.text.startswith(f"{message}\nhint: ")
    assert ET.fromstring(scoreboard.to_junit("e", [team])).find("testsuite").get("name") == name
    assert scoreboard.to_csv([team]).splitlines()[1].startswith(f"{name},C0.1,fail,0,")
    html = scoreboard.render_html("e", [team])
    assert f'data-team="{name}"' in html and "line 1\\nline 2" in html


def test_the_cli_prints_a_hostile_team_name_escaped_and_writes_it_inert(tmp_path, empty_ws):
    """`wth-grader scoreboard` on a teams file whose team names a spreadsheet would evaluate."""
    import csv

    names = ['=HYPERLINK("http://evil.example/","x")', "honest"]
    teams = write_teams(tmp_path / "teams.yaml", [{"name": name, "workspace": str(empty_ws.root), "endpoint": None,
                                                   "repo": None} for name in names])
    done = run_cli("scoreboard", "--config", str(teams), "--csv", str(tmp_path / "s.csv"), "--source", "workspace")
    assert done.returncode == 0, done.stderr
    assert names[0] in done.stdout and re.search(r"\n\s*\d\s+honest\s", done.stdout)
    cells = {row["team"] for row in csv.DictReader((tmp_path / "s.csv").open())}
    assert cells == {"'" + names[0], "honest"}


@pytest.fixture
def terminal_bomb():
    """A team's endpoint whose every /score answer is a 500 with text written for the coach's terminal."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._send(200, b"Healthy")

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send(500, HOSTILE_TEXT.replace("\ud800", "").encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/score"
    server.shutdown()
    server.server_close()


def test_an_endpoints_terminal_escapes_reach_the_coach_as_text(tmp_path, empty_ws, terminal_bomb):
    """`wth-grader check` prints the endpoint's answer in C3.2's message with its ESC sequences escaped, and the
    room's JUnit file parses."""
    teams = write_teams(tmp_path / "teams.yaml", [{"name": "evil", "workspace": str(empty_ws.root),
                                                   "endpoint": terminal_bomb, "repo": None}])
    done = run_cli("check", "--config", str(teams), "--team", "evil", "--challenge", "3")
    assert done.returncode == 1, done.stderr
    c32 = next(line for line in done.stdout.splitlines() if " C3.2 " in line)
    assert "answered HTTP 500 \\x1b[2J\\x1b[H\\x1b]0;window title\\x07\\x1b]52;c;cHduZWQ=\\x07" in c32
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", done.stdout), "a control character reached the terminal"
    done = run_cli("scoreboard", "--config", str(teams), "--source", "endpoint", "--junit", str(tmp_path / "s.xml"))
    assert done.returncode == 0 and "\x1b" not in done.stdout, done.stderr
    failure = next(c.find("failure") for c in ET.parse(tmp_path / "s.xml").iter("testcase") if "C3.2" in c.get("name"))
    assert "\\x1b]52;c;cHduZWQ=\\x07" in failure.get("message")
