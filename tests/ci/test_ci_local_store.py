"""A local workspace's CI records read and tagged with sqlite3 (wth.ci.local_store), as MLflow's client
reads and tags them, on real MLflow stores whose records are made as the runner makes them; and the
`wth ci` commands that only read or tag a record start without MLflow."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from wth import processes
from wth.ci import local_store
from wth.ci.records import APPROVALS, JOBS, NUMBER, REASON, STATUS, WAITING_FOR, Record, Records
from wth.config import CI_EXPERIMENT, EXPERIMENT
from wth.errors import UsageError

HEAVY = ("mlflow", "sqlalchemy", "alembic")
LOG = "[test]   | 3 passed in 0.10s\n"


def _record(records: Records, number: int, finish: str | None = None, **tags: str) -> Record:
    """Run `number` recorded as the runner records it: created, tagged, finished with its log when `finish`."""
    record = records.create(number, ".github/workflows/build.yml", "build", "push", f"{number:040d}",
                            "refs/heads/main", {"who": "alice"})
    if tags:
        records.set(record, **tags)
    if finish:
        records.log_file(number).parent.mkdir(parents=True, exist_ok=True)
        records.log_file(number).write_text(LOG)
        records.finish(record, finish, {"test": {"result": finish, "steps": [["pytest", finish]]}},
                       "" if finish == "success" else "job(s) failed: test")
    return record


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """#1 queued, #2 in progress under a live runner, #3 waiting for production, approved then rejected,
    #4 succeeded, #5 failed, #6 deleted; #7 and #8 started in the same millisecond; a run of another
    experiment."""
    ws = tmp_path_factory.mktemp("local-store") / "ws"
    records = Records(ws)
    _record(records, 1)
    _record(records, 2, runner=json.dumps(asdict(processes.Identity.of(os.getpid()))), status="in_progress")
    _record(records, 3, status="waiting", waiting_for="production")
    records.approve(3, "production")
    records.approve(3, "production", approve=False)
    _record(records, 4, finish="success")
    _record(records, 5, finish="failure")
    client = records.client
    client.delete_run(_record(records, 6, finish="success").run_id)
    ci = client.get_experiment_by_name(CI_EXPERIMENT).experiment_id
    for number in (7, 8):
        client.create_run(ci, start_time=1_700_000_000_000, tags={NUMBER: str(number), STATUS: "queued"})
    client.create_run(client.create_experiment(EXPERIMENT), tags={NUMBER: "9"})
    return ws


def test_mlflow_schema_check__the_sqlite_reader_returns_what_mlflow_s_client_returns(ws):
    """What catches a change of MLflow's store schema: local_store's queries against MlflowClient.search_runs,
    run for run, tag for tag, in the same order, whatever the limit."""
    records = Records(ws)
    for limit in (1, 2, 6, 1000):  # 6: between #7 and #8, started in the same millisecond
        read, searched = records.runs(limit), records.searched(limit)
        assert read == searched, f"MLflow's store schema or search_runs changed: wth.ci.local_store reads otherwise ({limit=})"
        assert [Record.stored(run) for run in read] == [Record.stored(run) for run in searched]
    every = {r.number: r for r in records.all()}
    assert sorted(every) == [1, 2, 3, 4, 5, 7, 8]  # not the deleted run, not another experiment's
    assert [every[n].state for n in (1, 2, 3, 4, 5)] == ["queued", "in_progress", "waiting", "success", "failure"]
    assert [a["decision"] for a in every[3].approvals] == ["approved", "rejected"]
    assert every[4].jobs == {"test": {"result": "success", "steps": [["pytest", "success"]]}}
    assert every[4].inputs == {"who": "alice"} and every[4].ended >= every[4].started > 0
    assert records.log_text(every[4]) == LOG


def test_a_deleted_experiment_shows_no_record_to_either_reader(tmp_path):
    records = Records(tmp_path)
    _record(records, 1, finish="success")
    records.client.delete_experiment(records.client.get_experiment_by_name(CI_EXPERIMENT).experiment_id)
    assert records.runs(1000) == records.searched(1000) == []


def test_no_store_or_a_store_without_tables_is_no_records_and_stays_as_it_was(tmp_path):
    nothing = tmp_path / "nothing"
    assert Records(nothing).all() == [] and not nothing.exists()
    bare = tmp_path / "bare"
    bare.mkdir()
    with sqlite3.connect(Records(bare).db) as db:
        db.execute("CREATE TABLE other (a)")
    assert Records(bare).all() == []
    with pytest.raises(UsageError, match="no CI run yet"):
        Records(bare).latest()


def test_tags_written_with_sqlite_are_what_mlflow_s_client_reads_back_one_row_each(tmp_path):
    records = Records(tmp_path)
    record = _record(records, 1, status="in_progress")
    records.set(record, status="waiting", waiting_for="production")
    records.approve(1, "production")
    tags = records.client.get_run(record.run_id).data.tags
    assert (tags[STATUS], tags[WAITING_FOR]) == ("waiting", "production")
    assert [a["environment"] for a in json.loads(tags[APPROVALS])] == ["production"]
    with sqlite3.connect(records.db) as db:
        rows = db.execute(f"SELECT count(*) FROM {local_store.TAGS} WHERE run_uuid = ? AND key = ?",
                          (record.run_id, STATUS)).fetchone()
    assert rows == (1,)


def test_a_write_is_all_or_nothing_and_refuses_a_run_deleted_or_not_in_the_store(tmp_path):
    records = Records(tmp_path)
    record = _record(records, 1)
    db = records.db
    with pytest.raises(sqlite3.Error):  # the second value cannot be stored: the first is not either
        local_store.set_tags(db, record.run_id, {REASON: "half", JOBS: object()})
    assert REASON not in records.client.get_run(record.run_id).data.tags
    with pytest.raises(UsageError, match="is not in the store"):
        local_store.set_tags(db, "0" * 32, {STATUS: "waiting"})
    records.client.delete_run(record.run_id)
    with pytest.raises(UsageError, match="is deleted from the store"):
        records.set(record, status="waiting")
    records.client.restore_run(record.run_id)
    assert records.client.get_run(record.run_id).data.tags[STATUS] == "queued"


def _wth(ws: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`wth ARGS` in a fresh interpreter that fails when it imported MLflow, SQLAlchemy or alembic."""
    program = ("import sys\nfrom wth.cli import main\ncode = main(sys.argv[1:])\n"
               f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
               "print('imported:', heavy, file=sys.stderr) if heavy else None\nsys.exit(code if not heavy else 99)")
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=ws)


def test_the_commands_that_read_or_tag_a_record_import_no_mlflow(tmp_path):
    """watch, log, runs, gate and approve on a local workspace: the stdlib's sqlite3, not MLflow (seconds each)."""
    ws = tmp_path / "ws"
    records = Records(ws)
    _record(records, 1, finish="success")
    records.log_file(1).unlink()  # the live log gone: the recorded artifact is read
    _record(records, 2, status="in_progress")
    _record(records, 3, status="waiting", waiting_for="production")
    where = ["--workspace", str(ws)]

    watched = _wth(ws, "ci", "watch", "1", *where)
    assert watched.returncode == 0 and watched.stdout == LOG + "[wth ci] run #1: success\n", watched.stderr
    logged = _wth(ws, "ci", "log", *where, "1")
    assert logged.returncode == 0 and logged.stdout == LOG, logged.stderr
    listed = _wth(ws, "ci", "runs", *where)
    assert listed.returncode == 0 and "   3  waiting: production" in listed.stdout and "   1  success" in listed.stdout
    approved = _wth(ws, "ci", "approve", "3", *where)
    assert approved.returncode == 0 and "run #3: production approved by" in approved.stdout, approved.stderr
    gate = _wth(ws, "ci", "gate", "production", env={"GITHUB_RUN_ID": "3", "WTH_WORKSPACE": str(ws)})
    assert gate.returncode == 0 and "production: approved by" in gate.stdout, gate.stderr
    assert records.get(3).status == "in_progress" and records.get(3).waiting_for is None
    refused = _wth(ws, "ci", "approve", "1", *where)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "CI run #1 has completed (success): nothing to approve" in refused.stderr
    missing = _wth(ws, "ci", "log", "9", *where)
    assert missing.returncode == 2 and "no CI run #9" in missing.stderr and "Traceback" not in missing.stderr


def test_wth_help_and_the_ci_parser_import_no_mlflow():
    program = ("import contextlib, io, sys\nfrom wth.cli import build_parser\nparser = build_parser()\n"
               "for argv in (['--help'], ['ci', '--help'], ['ci', 'gate', '--help']):\n"
               "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
               "        parser.parse_args(argv)\n"
               "parser.parse_args(['ci', 'watch', '3'])\n"
               f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


KILLED_MID_WRITE = f"""\
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 1")  # changed pages go to the file before the commit, the old ones to the journal
db.execute("BEGIN")
db.execute("UPDATE {local_store.TAGS} SET value = 'torn'")
os._exit(9)  # killed mid-transaction: the journal stays, hot
"""


def test_a_store_a_writer_left_mid_transaction_is_read_as_it_was_before(ws, tmp_path):
    """Its journal only a writer may roll back: the read-only reader hands the read to a read-write one."""
    torn = tmp_path / "ws"
    shutil.copytree(ws, torn)
    before = Records(torn).all()
    subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(Records(torn).db)], timeout=60)
    journal = Path(f"{Records(torn).db}-journal")
    assert journal.stat().st_size > 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        sqlite3.connect(f"{Records(torn).db.as_uri()}?mode=ro", uri=True).execute(f"SELECT count(*) FROM {local_store.TAGS}").fetchone()
    assert Records(torn).all() == before and not journal.exists()
