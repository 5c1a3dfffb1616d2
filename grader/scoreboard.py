"""Reports of a grading: the terminal table, JSON (schema wth-grader/1), JUnit XML, CSV, the HTML scoreboard.

The JSON shape is the grader report contract of docs/contracts.md (`points` may be fractional: partial credit); the JUnit
file has one <testsuite> per team and one <testcase> per check (fail -> <failure>, error and crash
-> <error>, skipped -> <skipped>) so Azure DevOps and GitHub show it; the CSV has one row per team and
check for a spreadsheet or an LMS; the HTML page is self-contained (inline CSS and SVG, no script or
font from a CDN). Team text reaches each medium through its rule in `grader.escaping`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .checks import CHALLENGES, CRASH, ERROR, FAIL, PASS, SKIPPED
from .escaping import csv_cell, markup, terminal
from .runner import CheckResult, TeamResult

SCHEMA = "wth-grader/1"
SYMBOL = {PASS: "✔", FAIL: "✘", ERROR: "!", CRASH: "‼", SKIPPED: "·"}
PARTIAL = "◐"  # a fail that earned some of its points
LEGEND = (f"{SYMBOL[PASS]} pass  {PARTIAL} partial credit  {SYMBOL[FAIL]} fail  {SYMBOL[ERROR]} error: not gradable  "
          f"{SYMBOL[CRASH]} crash: a grader bug, not the team's  {SYMBOL[SKIPPED]} skipped")
CSV_COLUMNS = ("team", "check_id", "status", "points", "max_points", "first_passed_at")


def symbol(result: CheckResult) -> str:
    return PARTIAL if result.status == FAIL and result.points else SYMBOL[result.status]


def points(result: CheckResult) -> str:
    return f"{result.points:g}/{result.max_points}"


def _write(path: str | Path, text: str, errors: str = "strict") -> Path:
    """Write atomically: a reader (the watch page, CI) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", errors=errors) as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def ranked(teams: list[TeamResult]) -> list[TeamResult]:
    return sorted(teams, key=lambda t: (-t.score, t.name))


def to_json(event: str, teams: list[TeamResult], generated_at: str | None = None) -> dict:
    out = {"schema": SCHEMA, "event": event, "generated_at": generated_at or _now(), "teams": []}
    for team in teams:
        challenges = []
        for number in sorted({r.challenge for r in team.results}):
            challenges.append({
                "id": f"{number:02d}", "title": CHALLENGES[number],
                "checks": [{"id": r.id, "title": r.title, "status": r.status, "points": r.points,
                            "max_points": r.max_points, "message": r.message, "hint": r.hint,
                            "evidence": r.evidence, "duration_s": r.duration_s, "computed_at": r.computed_at}
                           for r in team.results if r.challenge == number],
            })
        out["teams"].append({"name": team.name, "score": team.score, "max_score": team.max_score,
                             "graded_at": team.graded_at, "challenges": challenges})
    return out


def write_json(path: str | Path, event: str, teams: list[TeamResult]) -> Path:
    # a lone surrogate (a team's JSON answer can hold one, as `\ud800`) has no UTF-8: it is written back as
    # that escape, which JSON reads as it was
    return _write(path, json.dumps(to_json(event, teams), indent=2, ensure_ascii=False) + "\n", "backslashreplace")


def to_junit(event: str, teams: list[TeamResult]) -> str:
    suites = ET.Element("testsuites", name=markup(event))
    for team in teams:
        counts = {s: sum(r.status == s for r in team.results) for s in (FAIL, ERROR, CRASH, SKIPPED)}
        name = markup(team.name)
        suite = ET.SubElement(suites, "testsuite", name=name, tests=str(len(team.results)),
                              failures=str(counts[FAIL]), errors=str(counts[ERROR] + counts[CRASH]),
                              skipped=str(counts[SKIPPED]),
                              time=f"{team.duration_s:.3f}", timestamp=team.graded_at)
        for r in team.results:
            case = ET.SubElement(suite, "testcase", classname=f"{name}.challenge{r.challenge:02d}",
                                 name=f"{r.id} {r.title}", time=f"{r.duration_s:.3f}")
            message = markup(r.message)
            evidence = json.dumps(r.evidence, ensure_ascii=False)[:4000]
            detail = markup(f"{r.message}\nhint: {r.hint}\nevidence: {evidence}")
            if r.status == FAIL:
                credit = f"partial credit {points(r)}: " if r.points else ""
                ET.SubElement(case, "failure", message=(credit + message)[:500]).text = detail
            elif r.status in (ERROR, CRASH):
                what = "grader crash (not the team's): " if r.status == CRASH else ""
                ET.SubElement(case, "error", message=(what + message)[:500]).text = detail
            elif r.status == SKIPPED:
                ET.SubElement(case, "skipped", message=message[:500])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | Path, event: str, teams: list[TeamResult]) -> Path:
    return _write(path, to_junit(event, teams))


def to_csv(teams: list[TeamResult], history: dict | None = None) -> str:
    """One row per team and check: team, check id, status, points, max points, first passed at (UTC);
    every cell as `escaping.csv_cell` has it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for team in teams:
        first = (history or {}).get(team.name, {}).get("first_passed", {})
        for r in team.results:
            writer.writerow([csv_cell(cell) for cell in
                             (team.name, r.id, r.status, f"{r.points:g}", r.max_points, first.get(r.id, ""))])
    return out.getvalue()


def write_csv(path: str | Path, teams: list[TeamResult], history: dict | None = None) -> Path:
    return _write(path, to_csv(teams, history))


def table(teams: list[TeamResult]) -> str:
    """The terminal scoreboard: rank, team, score, and one symbol per check, grouped by challenge."""
    if not teams:
        return "no teams graded"
    ids = [r.id for r in teams[0].results]
    shown = [(terminal(team.name), team) for team in ranked(teams)]
    width = max(4, *(len(name) for name, _ in shown))
    groups = []
    for number in sorted({r.challenge for r in teams[0].results}):
        groups.append((number, [i for i in ids if i.startswith(f"C{number}.")]))
    header = f"{'#':>2}  {'team':<{width}}  {'score':>9}  " + "  ".join(f"C{n}" + " " * (len(g) - 2) for n, g in groups)
    lines = [header, "-" * len(header)]
    for rank, (name, team) in enumerate(shown, 1):
        marks_of = {r.id: symbol(r) for r in team.results}
        marks = "  ".join("".join(marks_of.get(i, SYMBOL[SKIPPED]) for i in g).ljust(max(2, len(g))) for _, g in groups)
        lines.append(f"{rank:>2}  {name:<{width}}  {team.score:>4g}/{team.max_score:<4}  {marks}")
    lines.append(f"({LEGEND})")
    return "\n".join(lines)


def details(team: TeamResult) -> str:
    """One team's results, one line per check, for `wth-grader check`."""
    lines = [f"{terminal(team.name)}: {team.score:g}/{team.max_score} points"]
    for r in team.results:
        lines.append(f"  {symbol(r)} {r.id:<5} {r.status:<7} {points(r):>7} {r.title}: {terminal(r.message)}")
        if r.status in (FAIL, ERROR):
            lines.append(f"          hint: {r.hint}")
    return "\n".join(lines)


# a FileSystemLoader next to this file: PackageLoader breaks when tests/grader shadows the package name;
# every value the page shows goes through `markup` (finalize), then jinja2's HTML escaping
_env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]), finalize=lambda value: markup(value)
                   if isinstance(value, str) else value)


def _challenge_progress(team: TeamResult) -> list[dict]:
    out = []
    for number in sorted({r.challenge for r in team.results}):
        results = [r for r in team.results if r.challenge == number]
        got, total = sum(r.points for r in results), sum(r.max_points for r in results)
        out.append({"number": number, "title": CHALLENGES[number], "points": got, "max_points": total,
                    "passed": sum(r.status == PASS for r in results), "checks": len(results),
                    "percent": round(100 * got / total) if total else 0})
    return out


CHART_W, CHART_H = 640, 160
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a")


def chart(timeline: dict[str, list[tuple[str, float]]], max_score: float) -> dict | None:
    """Each team's points over the event as SVG polylines (x: time of grading, y: score)."""
    stamps = [datetime.fromisoformat(at) for series in timeline.values() for at, _ in series]
    if not stamps or not max_score:
        return None
    t0, t1 = min(stamps), max(stamps)
    span = max((t1 - t0).total_seconds(), 1.0)
    lines = []
    for i, (name, series) in enumerate(timeline.items()):
        coords = [(CHART_W * (datetime.fromisoformat(at) - t0).total_seconds() / span,
                   CHART_H * (1 - min(float(score), max_score) / max_score)) for at, score in series]
        if len(coords) == 1:
            coords.append((CHART_W, coords[0][1]))  # one grading: a flat line, so it shows
        lines.append({"team": name, "color": PALETTE[i % len(PALETTE)], "last": f"{series[-1][1]:g}" if series else "",
                      "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)})
    return {"width": CHART_W, "height": CHART_H, "from": t0.isoformat(), "to": t1.isoformat(),
            "max_score": max_score, "lines": lines}


def render_html(event: str, teams: list[TeamResult], history: dict | None = None, refresh_s: int | None = None,
                generated_at: str | None = None, docs_url: str | None = None, timeline: dict | None = None,
                notice: str | None = None) -> str:
    """The scoreboard page. `history` (from `grader.history.summary`) adds first-passed times, stuck
    flags and the first team to pass each challenge; `timeline` (`grader.history.timeline`) the chart
    of points over the event; `docs_url` (where Student/ is browsable) turns the hints into links;
    `notice`, a line for the coach above the scoreboard (the first pass running, a teams file not re-read)."""
    from .history import first_to_pass

    history = history or {}
    rows = []
    for rank, team in enumerate(ranked(teams), 1):
        info = history.get(team.name, {})
        rows.append({"rank": rank, "team": team, "challenges": _challenge_progress(team),
                     "first_passed": info.get("first_passed", {}), "stuck": info.get("stuck")})
    return _env.get_template("scoreboard.html.j2").render(
        event=event, rows=rows, generated_at=generated_at or _now(), refresh_s=refresh_s, notice=notice,
        docs_url=(docs_url.rstrip("/") + "/") if docs_url else "",
        challenges=CHALLENGES, symbol=symbol, points=points, legend=LEGEND,
        chart=chart(timeline or {}, max((t.max_score for t in teams), default=0)),
        first=first_to_pass(history, teams) if history else {},
        json=lambda v: json.dumps(v, indent=1, ensure_ascii=False))


def write_html(path: str | Path, event: str, teams: list[TeamResult], history: dict | None = None,
               refresh_s: int | None = None, docs_url: str | None = None, timeline: dict | None = None,
               notice: str | None = None) -> Path:
    return _write(path, render_html(event, teams, history, refresh_s, docs_url=docs_url, timeline=timeline,
                                    notice=notice))
