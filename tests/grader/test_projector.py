"""The scoreboard on a projector: a room of 40 teams and the coach's reference, drawn by a real headless
Chromium at 1920x1080. Every team's row is on the one screen, and the statuses of the checks differ in the
screenshot's pixels even in grey (not by colour alone). The results are built in-process: no team is graded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageChops, ImageStat
from test_watch import CHROMIUM_FLAGS

from grader import history, scoreboard
from grader.checks import all_checks
from grader.results import UNREACHABLE, CheckResult, TeamResult

WIDTH, HEIGHT = 1920, 1080
TEAMS = 40
KINDS = ("pass", "partial", "fail", "error", "crash", "skipped")
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
MEASURE = """<script>
const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const rows = [...document.querySelectorAll('#ranking tbody tr')].map(tr => ({
  team: tr.dataset.team, row: box(tr), name: box(tr.querySelector('.name a')),
  segs: [...tr.querySelectorAll('.seg')].map(s => [s.dataset.status, box(s)]),
  badges: [...tr.querySelectorAll('.badge')].map(b => [b.dataset.badge, box(b)])}));
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify({viewport: [innerWidth, innerHeight], rows});
document.body.appendChild(pre);
</script>"""


def _team(number: int, at: datetime, **kwargs) -> TeamResult:
    """Team `number`'s results: check i has status KINDS[(i + number) % 6], so every row shows every status."""
    results = []
    for i, check in enumerate(all_checks()):
        kind = "pass" if kwargs.get("reference") or number % 5 == 0 else KINDS[(i + number) % len(KINDS)]
        points = {"pass": check.points, "partial": round(check.points * 0.4, 1)}.get(kind, 0)
        evidence = {UNREACHABLE: "endpoint"} if check.id == "C3.1" and kind == "fail" else {}
        results.append(CheckResult(check.id, check.title, check.challenge, "fail" if kind == "partial" else kind,
                                   points, check.points, f"said {kind}", check.hint, evidence, 0.1))
    return TeamResult(f"team {number:02d} of the room", results, at.isoformat(timespec="seconds"), 1.0, **kwargs)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page of the room's fourth pass (every 30 minutes; team 07 last graded two passes before), and the same
    page measuring itself: where each row, segment and badge is."""
    folder = tmp_path_factory.mktemp("projector")
    for k in range(4):
        history.record(folder / "grader", [_team(n, START + timedelta(minutes=30 * k)) for n in range(TEAMS)])
    now = START + timedelta(minutes=90)
    room = [_team(n, now - timedelta(minutes=60) if n == 7 else now) for n in range(TEAMS)]
    room.append(_team(99, now, reference=True))
    html = scoreboard.render_html("Contoso MLOps hack", room, history.progress(folder / "grader", room, 45, now=now),
                                  refresh_s=60, generated_at=now.isoformat())
    (folder / "board.html").write_text(html)
    (folder / "measure.html").write_text(html.replace("</body>", MEASURE + "</body>"))
    return folder, room


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no `chromium` on PATH (Debian package chromium; .ci/run installs it): the browser test did not "
                    "run")
    return subprocess.run([browser, *CHROMIUM_FLAGS, "--hide-scrollbars", "--force-device-scale-factor=1",
                           f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(tmp_path)})


def test_forty_teams_fit_one_1920x1080_screen_with_their_statuses_told_apart(page, tmp_path):
    folder, room = page
    dom = _chromium(tmp_path, "--dump-dom", (folder / "measure.html").as_uri()).stdout
    measured = json.loads(dom.split('<pre id="measured">')[1].split("</pre>")[0].replace("&quot;", '"'))
    # --dump-dom's window keeps room for a browser's bars (a shorter viewport), the screenshot below is the whole
    # 1920x1080; the page's layout depends on the width alone, so the rows' places hold for both
    assert measured["viewport"][0] == WIDTH
    rows = measured["rows"]
    assert [r["team"] for r in rows] == ["team 99 of the room"] + [t.name for t in scoreboard.ranked(room)]

    def inside(box) -> bool:
        left, top, right, bottom = box
        return 0 <= left < right <= WIDTH and 0 <= top < bottom <= HEIGHT

    for row in rows:  # the whole row on the screen: its name, and each check as a segment wide enough to see
        assert inside(row["row"]) and inside(row["name"]), row["team"]
        assert len(row["segs"]) == len(all_checks()) and all(inside(b) and b[2] - b[0] >= 12 for _, b in row["segs"])
    badges = {(r["team"], kind) for r in rows for kind, b in r["badges"] if inside(b)}
    unreachable = {t.name for t in room if "endpoint" in t.unreachable()}
    assert unreachable and {(name, "endpoint-unreachable") for name in unreachable} <= badges
    assert ("team 07 of the room", "stale") in badges and sum(kind == "stale" for _, kind in badges) == 1

    shot = tmp_path / "board.png"
    _chromium(tmp_path, f"--screenshot={shot}", (folder / "board.html").as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    looks = {}
    for kind in KINDS:  # each status as the screenshot shows it, in grey: its lowest segment of a 10-point check
        left, top, right, bottom = next(b for r in reversed(rows) for k, b in r["segs"]
                                        if k == kind and b[2] - b[0] > 30)
        inner = (round(left) + 1, round(top) + 1, round(right) - 1, round(bottom) - 1)
        looks[kind] = image.crop(inner).convert("L").resize((48, 16))
    for i, a in enumerate(KINDS):
        for b in KINDS[i + 1:]:
            difference = ImageStat.Stat(ImageChops.difference(looks[a], looks[b])).mean[0]
            assert difference > 20, f"{a} and {b} look alike in grey ({difference:.1f} of 255 apart)"
