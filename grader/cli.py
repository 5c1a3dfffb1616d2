"""`wth-grader`: grade every team's workspace, registry, pipeline runs and live endpoint.

Exit status: 0 when grading ran (whatever the teams' results), 2 on a bad teams file or bad usage,
with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from wth.cli_parsing import Parser, run
from wth.errors import UsageError

from . import wth_check, wth_handin
from .results import SOURCES
from .teams import ConfigError
from .wth_check import load, parse_number


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_checks(args) -> int:
    from .checks import all_checks

    checks = all_checks()
    if args.json:
        print(json.dumps([{"id": c.id, "challenge": c.challenge, "title": c.title, "points": c.points} for c in checks],
                         indent=2))
        return 0
    for c in checks:
        after = f"  (after {', '.join(c.depends)})" if c.depends else ""
        print(f"{c.id:<5} {c.points:>3} pts  {c.title}{after}\n      {c.hint}")
    return 0


def _progress(total: int):
    from .escaping import terminal

    done = []
    lock = threading.Lock()

    def on_team(team) -> None:
        with lock:
            done.append(team.name)
            _stderr(f"[{len(done)}/{total}] {terminal(team.name)}: {team.score}/{team.max_score} in {team.duration_s:.1f} s")

    return on_team


def grade_and_write(cfg, json_path=None, junit_path=None, html_path=None, refresh_s=None, quiet=False, csv_path=None,
                    sources=None, notice=None, earlier=None):
    """One grading pass: grade (taking over what `earlier` passes computed on unchanged inputs), record
    history, write the reports asked for (`notice`: a line the page shows above the scoreboard); returns
    the results."""
    from . import history, runner
    from . import scoreboard as report

    results = runner.grade(cfg, on_team=None if quiet else _progress(len(cfg.teams)), sources=sources,
                           earlier=earlier)
    history.record(cfg.grader_dir, results)
    if json_path:
        report.write_json(json_path, cfg.event, results)
    if junit_path:
        report.write_junit(junit_path, cfg.event, results)
    if html_path or csv_path:
        progress = history.progress(cfg.grader_dir, results, cfg.stuck_after_min)
        if csv_path:
            report.write_csv(csv_path, results, progress)
        if html_path:
            report.write_html(html_path, cfg.event, results, progress, refresh_s, cfg.docs_url, notice=notice)
    return results


def cmd_scoreboard(args) -> int:
    cfg = load(args.config, args.require_sandbox)
    from . import scoreboard as report

    started = time.monotonic()
    results = grade_and_write(cfg, args.json, args.junit, args.html, csv_path=args.csv,
                              sources=frozenset(args.sources) if args.sources else None)
    print(report.table(results))
    written = [p for p in (args.json, args.junit, args.html, args.csv) if p]
    print(f"graded {len(results)} team(s) in {time.monotonic() - started:.1f} s" +
          (f"; wrote {', '.join(written)}" if written else ""))
    return 0


def _reread(config_path: str, require_sandbox: bool, last):
    """The teams file as it is now (a team added mid-event is graded on the next pass), else the last good
    one and why the new one was not taken."""
    try:
        fresh = load(config_path, require_sandbox)
    except ConfigError as err:
        return last, f"the teams file was not re-read, the last good one is graded: {err}"
    if fresh.grader_dir != last.grader_dir:
        return last, (f"the teams file was not re-read, the last good one is graded: its grader_dir changed to "
                      f"{fresh.grader_dir}: restart watch to move the grader folder")
    return fresh, None


def cmd_watch(args) -> int:
    if args.handin and args.serve is None:
        raise UsageError("--handin needs --serve: the form is a page of the served scoreboard")
    cfg = load(args.config, args.require_sandbox)
    from . import scoreboard as report
    from .handin import pending as handin_pending
    from .runner import Earlier
    from .serving import FORM, HTML, JSON_FILE, serve

    folder = cfg.grader_dir
    folder.mkdir(parents=True, exist_ok=True)
    refresh_s = max(5, int(args.interval))
    report.write_html(folder / HTML, cfg.event, [], refresh_s=refresh_s, docs_url=cfg.docs_url,
                      notice="first pass running: the scoreboard appears here when it ends")
    handins_for = Path(args.config) if args.handin else None
    server = serve(folder, args.serve, args.host, handins_for=handins_for) if args.serve is not None else None
    if server:
        print(f"serving http://{args.host}:{server.server_address[1]}/", flush=True)
        if args.handin:
            print(f"hand-in form: http://{args.host}:{server.server_address[1]}{FORM}; the entries wait in "
                  f"{handin_pending(folder)} for `wth-grader admit --pending --config {args.config}`", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    problem, earlier = None, Earlier()
    try:
        while not stop.is_set():
            started = time.monotonic()
            results = grade_and_write(cfg, folder / JSON_FILE, None, folder / HTML, refresh_s=refresh_s, quiet=True,
                                      notice=problem, earlier=earlier)
            print(report.table(results), flush=True)
            if problem:
                _stderr(problem)
            print(f"graded {len(results)} team(s) in {time.monotonic() - started:.1f} s; page {folder / HTML}", flush=True)
            stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
            cfg, problem = _reread(args.config, args.require_sandbox, cfg)
    except KeyboardInterrupt:
        pass
    finally:
        if server:
            server.shutdown()
            server.server_close()
    return 0


def _positive(value: str) -> float:
    return parse_number(value, float, lambda number: number > 0, "a positive number of seconds")


def _sandbox_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--require-sandbox", action="store_true",
                        help="refuse to grade unless the teams' tests can run under bubblewrap")


def build_parser() -> argparse.ArgumentParser:
    """Options anywhere on the line (wth.cli_parsing); the global option, also before the command, is --config."""
    parser = Parser(prog="wth-grader", description=__doc__.splitlines()[0])
    parser.add_argument("--config", metavar="F", help="the teams file (YAML) of check, scoreboard and watch")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("checks", help="list every check with its id, points and hint")
    p.add_argument("--json", action="store_true", help='print [{"id", "challenge", "title", "points"}]')
    p.set_defaults(func=cmd_checks)

    p = sub.add_parser("check", help="grade one team and print every result")
    wth_check.add_arguments(p)
    _sandbox_flag(p)
    p.set_defaults(func=wth_check.run)

    p = sub.add_parser("scoreboard", help="grade every team and print/write the scoreboard")
    p.add_argument("--config", required=True, metavar="F", help="the teams file (YAML)")
    p.add_argument("--json", metavar="P", help="write the JSON report (schema wth-grader/1)")
    p.add_argument("--junit", metavar="P", help="write JUnit XML")
    p.add_argument("--html", metavar="P", help="write the HTML scoreboard")
    p.add_argument("--csv", metavar="P", help="write one row per team and check (team, check id, status, points, "
                                              "max points, first passed at) for a spreadsheet or an LMS")
    p.add_argument("--source", dest="sources", action="append", choices=SOURCES,
                   help="grade only the checks that look at this (repeat for more; default: all)")
    _sandbox_flag(p)
    p.set_defaults(func=cmd_scoreboard)

    p = sub.add_parser("watch", help="regrade every S seconds; optionally serve the auto-refreshing page")
    p.add_argument("--config", required=True, metavar="F", help="the teams file (YAML)")
    p.add_argument("--interval", required=True, type=_positive, metavar="S", help="seconds between gradings")
    p.add_argument("--serve", type=int, metavar="PORT", help="serve the scoreboard on this port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--handin", action="store_true", help="with --serve, the hand-in form at /handin: teams register "
                   "themselves, their entries wait for `admit --pending`")
    _sandbox_flag(p)
    p.set_defaults(func=cmd_watch)

    wth_handin.add_admit(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, lambda args: f"wth-grader {args.command}")

