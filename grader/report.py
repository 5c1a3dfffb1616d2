"""Reports of a grading: the terminal table, JSON (schema wth-grader/1), JUnit XML, the HTML scoreboard.

The JSON shape is the DESIGN.md contract; the JUnit file has one <testsuite> per team and one
<testcase> per check (fail -> <failure>, error -> <error>, skipped -> <skipped>) so Azure DevOps and
GitHub show it; the HTML page is self-contained (inline CSS, no script or font from a CDN).
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .checks import CHALLENGES, ERROR, FAIL, PASS, SKIPPED
from .runner import TeamResult

SCHEMA = "wth-grader/1"
SYMBOL = {PASS: "✔", FAIL: "✘", ERROR: "!", SKIPPED: "·"}


def _write(path: str | Path, text: str) -> Path:
    """Write atomically: a reader (the watch page, CI) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
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
                            "evidence": r.evidence, "duration_s": r.duration_s}
                           for r in team.results if r.challenge == number],
            })
        out["teams"].append({"name": team.name, "score": team.score, "max_score": team.max_score,
                             "challenges": challenges})
    return out


def write_json(path: str | Path, event: str, teams: list[TeamResult]) -> Path:
    return _write(path, json.dumps(to_json(event, teams), indent=2, ensure_ascii=False) + "\n")


def to_junit(event: str, teams: list[TeamResult]) -> str:
    suites = ET.Element("testsuites", name=event)
    for team in teams:
        counts = {s: sum(r.status == s for r in team.results) for s in (FAIL, ERROR, SKIPPED)}
        suite = ET.SubElement(suites, "testsuite", name=team.name, tests=str(len(team.results)),
                              failures=str(counts[FAIL]), errors=str(counts[ERROR]), skipped=str(counts[SKIPPED]),
                              time=f"{team.duration_s:.3f}", timestamp=team.graded_at)
        for r in team.results:
            case = ET.SubElement(suite, "testcase", classname=f"{team.name}.challenge{r.challenge:02d}",
                                 name=f"{r.id} {r.title}", time=f"{r.duration_s:.3f}")
            detail = f"{r.message}\nhint: {r.hint}\nevidence: {json.dumps(r.evidence, ensure_ascii=False)[:4000]}"
            if r.status == FAIL:
                ET.SubElement(case, "failure", message=r.message[:500]).text = detail
            elif r.status == ERROR:
                ET.SubElement(case, "error", message=r.message[:500]).text = detail
            elif r.status == SKIPPED:
                ET.SubElement(case, "skipped", message=r.message[:500])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | Path, event: str, teams: list[TeamResult]) -> Path:
    return _write(path, to_junit(event, teams))


def table(teams: list[TeamResult]) -> str:
    """The terminal scoreboard: rank, team, score, and one symbol per check, grouped by challenge."""
    if not teams:
        return "no teams graded"
    ids = [r.id for r in teams[0].results]
    width = max(4, *(len(t.name) for t in teams))
    groups = []
    for number in sorted({r.challenge for r in teams[0].results}):
        groups.append((number, [i for i in ids if i.startswith(f"C{number}.")]))
    header = f"{'#':>2}  {'team':<{width}}  {'score':>9}  " + "  ".join(f"C{n}" + " " * (len(g) - 2) for n, g in groups)
    lines = [header, "-" * len(header)]
    for rank, team in enumerate(ranked(teams), 1):
        status = {r.id: r.status for r in team.results}
        marks = "  ".join("".join(SYMBOL[status.get(i, SKIPPED)] for i in g).ljust(max(2, len(g))) for _, g in groups)
        lines.append(f"{rank:>2}  {team.name:<{width}}  {team.score:>4}/{team.max_score:<4}  {marks}")
    lines.append(f"({SYMBOL[PASS]} pass  {SYMBOL[FAIL]} fail  {SYMBOL[ERROR]} error: not gradable  {SYMBOL[SKIPPED]} skipped)")
    return "\n".join(lines)


def details(team: TeamResult) -> str:
    """One team's results, one line per check, for `wth-grader check`."""
    lines = [f"{team.name}: {team.score}/{team.max_score} points"]
    for r in team.results:
        lines.append(f"  {SYMBOL[r.status]} {r.id:<5} {r.status:<7} {r.title}: {r.message}")
        if r.status in (FAIL, ERROR):
            lines.append(f"          hint: {r.hint}")
    return "\n".join(lines)


# a FileSystemLoader next to this file: PackageLoader breaks when tests/grader shadows the package name
_env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]))


def _challenge_progress(team: TeamResult) -> list[dict]:
    out = []
    for number in sorted({r.challenge for r in team.results}):
        results = [r for r in team.results if r.challenge == number]
        got, total = sum(r.points for r in results), sum(r.max_points for r in results)
        out.append({"number": number, "title": CHALLENGES[number], "points": got, "max_points": total,
                    "passed": sum(r.status == PASS for r in results), "checks": len(results),
                    "percent": round(100 * got / total) if total else 0})
    return out


def render_html(event: str, teams: list[TeamResult], history: dict | None = None, refresh_s: int | None = None,
                generated_at: str | None = None, docs_url: str | None = None) -> str:
    """The scoreboard page. `history` (from `grader.history`) adds first-passed times and stuck flags;
    `docs_url` (where Student/ is browsable) turns the hints into working links."""
    history = history or {}
    rows = []
    for rank, team in enumerate(ranked(teams), 1):
        info = history.get(team.name, {})
        rows.append({"rank": rank, "team": team, "challenges": _challenge_progress(team),
                     "first_passed": info.get("first_passed", {}), "stuck": info.get("stuck")})
    return _env.get_template("scoreboard.html.j2").render(
        event=event, rows=rows, generated_at=generated_at or _now(), refresh_s=refresh_s,
        docs_url=(docs_url.rstrip("/") + "/") if docs_url else "",
        challenges=CHALLENGES, symbol=SYMBOL, json=lambda v: json.dumps(v, indent=1, ensure_ascii=False))


def write_html(path: str | Path, event: str, teams: list[TeamResult], history: dict | None = None,
               refresh_s: int | None = None, docs_url: str | None = None) -> Path:
    return _write(path, render_html(event, teams, history, refresh_s, docs_url=docs_url))

