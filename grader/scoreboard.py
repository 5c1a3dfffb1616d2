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
import statistics
import tempfile
import xml.etree.ElementTree as ET
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .escaping import csv_cell, markup, terminal
from .results import CHALLENGES, CRASH, ERROR, FAIL, PASS, SKIPPED, CheckResult, Progress, TeamResult, whole

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
    return datetime.now(UTC).isoformat(timespec="seconds")


def ranked(teams: list[TeamResult]) -> list[TeamResult]:
    """The competing teams, best first: the reference team is never ranked."""
    return sorted((t for t in teams if not t.reference), key=lambda t: (-t.score, t.name))


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
                             **({"reference": True} if team.reference else {}), "graded_at": team.graded_at,
                             "challenges": challenges})
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


def to_csv(teams: list[TeamResult], progress: Progress | None = None) -> str:
    """One row per team and check: team, check id, status, points, max points, first passed at (UTC);
    every cell as `escaping.csv_cell` has it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for team in teams:
        first = progress.first_passed.get(team.name, {}) if progress else {}
        for r in team.results:
            writer.writerow([csv_cell(cell) for cell in
                             (team.name, r.id, r.status, f"{r.points:g}", r.max_points, first.get(r.id, ""))])
    return out.getvalue()


def write_csv(path: str | Path, teams: list[TeamResult], progress: Progress | None = None) -> Path:
    return _write(path, to_csv(teams, progress))


def table(teams: list[TeamResult]) -> str:
    """The terminal scoreboard: rank, team, score, one symbol per check grouped by challenge, what did not answer;
    the reference team last, ranked `ref`."""
    if not teams:
        return "no teams graded"
    ids = [r.id for r in teams[0].results]
    shown = [(str(rank), terminal(team.name), team) for rank, team in enumerate(ranked(teams), 1)]
    shown += [("ref", terminal(team.name), team) for team in teams if team.reference]  # below the ranking, unranked
    width = max(4, *(len(name) for _, name, _ in shown))
    groups = []
    for number in sorted({r.challenge for r in teams[0].results}):
        groups.append((number, [i for i in ids if i.startswith(f"C{number}.")]))
    header = f"{'#':>3}  {'team':<{width}}  {'score':>9}  " + "  ".join(f"C{n}" + " " * (len(g) - 2) for n, g in groups)
    lines = [header, "-" * len(header)]
    for rank, name, team in shown:
        marks_of = {r.id: symbol(r) for r in team.results}
        marks = "  ".join("".join(marks_of.get(i, SYMBOL[SKIPPED]) for i in g).ljust(max(2, len(g))) for _, g in groups)
        down = "".join(f"  [{source} unreachable]" for source in team.unreachable())
        lines.append(f"{rank:>3}  {name:<{width}}  {team.score:>4g}/{team.max_score:<4}  {marks}{down}")
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


# the grader's pages (the scoreboard, serving.py's hand-in form), from a FileSystemLoader next to this file:
# PackageLoader breaks when tests/grader shadows the package name; every value a page shows goes through
# `markup` (finalize), then jinja2's HTML escaping; a macro's output (Markup) is made of values that went
# through both already
PAGES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]), finalize=lambda value: markup(value)
                   if isinstance(value, str) and not isinstance(value, Markup) else value)


def css_class(result: CheckResult) -> str:
    """The status as the page draws it: a fail that earned some points is `partial`."""
    return "partial" if result.status == FAIL and result.points else result.status


def _challenges(team: TeamResult) -> list[dict]:
    """Per challenge: its points, and its checks in order (each a segment of the row's bar, as wide as its points)."""
    out = []
    for number in sorted({r.challenge for r in team.results}):
        results = [r for r in team.results if r.challenge == number]
        out.append({"number": number, "title": CHALLENGES[number], "results": results,
                    "points": whole(sum(r.points for r in results)), "max_points": sum(r.max_points for r in results)})
    return out


def _local(stamp: datetime) -> datetime:
    """A time as the room's clocks show it: the grading machine's time zone (set TZ to change it)."""
    return stamp.astimezone()


def clock(iso: str) -> str:
    """An ISO time as the room's clocks show it, with the day."""
    return _local(datetime.fromisoformat(iso)).strftime("%a %H:%M") if iso else ""


CHART_W, CHART_H = 1200, 300  # the plot area, in the SVG's units; around it the axes and the lines' labels
CHART_MARGIN = {"left": 64, "right": 230, "top": 10, "bottom": 46}
TOP_N = 5  # the chart draws the leaders' lines and, past them, the room's median: 40 lines would be unreadable
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df")
DASHES = ("", "9 4", "2 3", "12 3 2 3", "5 5")  # the lines are told apart without their colour too
TIME_STEPS_MIN = (1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_TIME_TICKS = 9
MEDIAN_SAMPLES = 240
LABEL_GAP = 15  # between two lines' labels at the chart's right edge


def _time_ticks(t0: datetime, t1: datetime) -> list[tuple[datetime, str]]:
    """Ticks on round local times (every 1 min .. 1 day, at most MAX_TIME_TICKS), labelled HH:MM (with the day
    when the span crosses midnight)."""
    span_min = (t1 - t0).total_seconds() / 60
    step = next((s for s in TIME_STEPS_MIN if span_min / s <= MAX_TIME_TICKS), TIME_STEPS_MIN[-1])
    start = t0.replace(second=0, microsecond=0)
    if start < t0:
        start += timedelta(minutes=1)
    start += timedelta(minutes=-(start.hour * 60 + start.minute) % step)
    form = "%a %H:%M" if t0.date() != t1.date() else "%H:%M"
    ticks, tick = [], start
    while tick <= t1:
        ticks.append((tick, tick.strftime(form)))
        tick += timedelta(minutes=step)
    return ticks


def _point_ticks(max_score: float) -> list[float]:
    """0, round steps (at most 5 of them) and the maximum."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, float("inf")) if max_score / s <= 5)
    ticks = [k * step for k in range(int(max_score // step) + 1) if max_score - k * step > step / 3]
    return [*ticks, whole(max_score)]


def _spread(labels: list[dict]) -> None:
    """Moves the lines' end labels apart vertically (at least LABEL_GAP), keeping them inside the plot."""
    labels.sort(key=lambda label: label["y"])
    for before, label in zip(labels, labels[1:]):
        label["y"] = max(label["y"], before["y"] + LABEL_GAP)
    if labels and labels[-1]["y"] > CHART_H:
        labels[-1]["y"] = CHART_H
        for after, label in zip(reversed(labels), list(reversed(labels))[1:]):
            label["y"] = min(label["y"], after["y"] - LABEL_GAP)


def chart(timeline: dict[str, list[tuple[str, float]]], room: list[str], max_score: float) -> dict | None:
    """The points over the event as SVG: the first TOP_N teams of `room` (ranked) as lines, the room's median
    when there are more, a points axis and an axis of local times."""
    series = {name: [(_local(datetime.fromisoformat(at)), float(score)) for at, score in timeline.get(name, ())]
              for name in room}
    stamps = [at for points in series.values() for at, _ in points]
    if not stamps or not max_score:
        return None
    t0, t1 = min(stamps), max(stamps)
    span = max((t1 - t0).total_seconds(), 1.0)

    def xy(at: datetime, score: float) -> tuple[float, float]:
        return CHART_W * (at - t0).total_seconds() / span, CHART_H * (1 - min(score, max_score) / max_score)

    def polyline(coords: list[tuple[float, float]]) -> str:
        if len(coords) == 1:
            coords = [*coords, (CHART_W, coords[0][1])]  # one grading: a flat line, so it shows
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)

    lines, labels = [], []
    for i, name in enumerate([name for name in room if series[name]][:TOP_N]):
        coords = [xy(at, score) for at, score in series[name]]
        last = f"{whole(series[name][-1][1]):g}"
        lines.append({"team": name, "color": PALETTE[i], "dash": DASHES[i], "last": last, "points": polyline(coords)})
        labels.append({"text": name, "last": last, "color": PALETTE[i], "y": coords[-1][1]})
    median = None
    graded = [points for points in series.values() if points]
    if len(graded) > len(lines):
        coords = []
        for k in range(MEDIAN_SAMPLES + 1):
            at = t0 + (t1 - t0) * k / MEDIAN_SAMPLES
            scores = [points[i - 1][1] for points in graded if (i := bisect_right([p[0] for p in points], at))]
            coords.append(xy(at, statistics.median(scores)))
        last = f"{whole(max_score * (1 - coords[-1][1] / CHART_H)):g}"
        median = {"points": polyline(coords), "last": last, "teams": len(graded)}
        labels.append({"text": f"median of {len(graded)} teams", "last": last, "color": "#57606a",
                       "y": coords[-1][1], "median": True})
    _spread(labels)
    return {"width": CHART_W, "height": CHART_H, "margin": CHART_MARGIN, "max_score": max_score, "lines": lines,
            "median": median, "labels": labels,
            "y_ticks": [(CHART_H * (1 - v / max_score), f"{v:g}") for v in _point_ticks(max_score)],
            "x_ticks": [(CHART_W * (at - t0).total_seconds() / span, text) for at, text in _time_ticks(t0, t1)],
            "zone": t1.strftime("%Z") if t1.utcoffset() == timedelta(0) else t1.strftime("%Z, UTC%z"),
            "from": t0.strftime("%Y-%m-%d %H:%M"), "to": t1.strftime("%Y-%m-%d %H:%M")}


STALE_PASSES = 3  # a team graded longer ago than this many refreshes is flagged stale


def _row(team: TeamResult, rank: int | str, anchor: str, progress: Progress, now: datetime,
         stale_after_s: float | None) -> dict:
    graded = datetime.fromisoformat(team.graded_at)
    age_s = (now - graded).total_seconds()
    return {"rank": rank, "anchor": anchor, "team": team, "challenges": _challenges(team),
            "first_passed": progress.first_passed.get(team.name, {}), "stuck": progress.stuck.get(team.name),
            "unreachable": team.unreachable(), "graded": _local(graded).strftime("%H:%M"),
            "stale": f"graded {age_s / 60:.0f} min ago" if stale_after_s and age_s > stale_after_s else None,
            "stale_min": f"{age_s / 60:.0f}"}


def render_html(event: str, teams: list[TeamResult], progress: Progress | None = None, refresh_s: int | None = None,
                generated_at: str | None = None, docs_url: str | None = None, notice: str | None = None) -> str:
    """The scoreboard page, made for a projector: 40 teams on one 1920x1080 screen, each a bar in points
    whose segments are its checks (pass, partial, fail, not gradable, crash, skipped told apart by fill and
    symbol, not colour alone), badges for an unreachable workspace or endpoint, a stale grading (older than
    STALE_PASSES refreshes of a watch) and a stuck team; the reference team apart, unranked. `progress`
    (`grader.history.progress`) adds first-passed times, stuck flags, the chart of points over the event and
    the first team to pass each challenge; `docs_url` (where Student/ is browsable) turns the hints into links;
    `notice`, a line for the coach above the scoreboard (the first pass running, a teams file not re-read)."""
    progress = progress or Progress()
    generated_at = generated_at or _now()
    now = datetime.fromisoformat(generated_at)
    stale_after_s = STALE_PASSES * refresh_s if refresh_s else None
    competing = ranked(teams)
    rows = [_row(team, rank, f"team-{rank}", progress, now, stale_after_s) for rank, team in enumerate(competing, 1)]
    apart = [_row(team, "ref", f"reference-{i}", progress, now, stale_after_s)
             for i, team in enumerate((t for t in teams if t.reference), 1)]
    return PAGES.get_template("scoreboard.html.j2").render(
        event=event, rows=rows, references=apart, generated_at=_local(now).strftime("%Y-%m-%d %H:%M %Z"),
        refresh_s=refresh_s, notice=notice, docs_url=(docs_url.rstrip("/") + "/") if docs_url else "",
        header=_challenges(teams[0]) if teams else [], challenges=CHALLENGES, symbol=symbol, points=points,
        css_class=css_class, legend=LEGEND, symbols=SYMBOL, partial_symbol=PARTIAL, stale_passes=STALE_PASSES,
        clock=clock,
        chart=chart(progress.timeline, [t.name for t in competing], max((t.max_score for t in teams), default=0)),
        first=progress.first_to_pass, json=lambda v: json.dumps(v, indent=1, ensure_ascii=False))


def write_html(path: str | Path, event: str, teams: list[TeamResult], progress: Progress | None = None,
               refresh_s: int | None = None, docs_url: str | None = None, notice: str | None = None) -> Path:
    return _write(path, render_html(event, teams, progress, refresh_s, docs_url=docs_url, notice=notice))
