"""Builders for the grader's tests: real team workspaces, real team repositories, real endpoints.

Workspaces are real MLflow stores written through the product's own workspace and model modules,
following the run contracts of docs/contracts.md (build, release, retrain, drift). Given the team's
repository, each pipeline is made inside a CI run of its HEAD, recorded through `wth.ci.records` as the
runner records one (`ci_run`: act itself runs in tests/ci, where a push starts it). The model is one Holt-Winters
fit instead of the build pipeline's nine-model selection (minutes on a shared 2-core machine; the
lead's tests cover that), so a full team workspace costs seconds.

Endpoints are small real HTTP servers on 127.0.0.1 (port 0) speaking the endpoint contract, or
misbehaving in one precise way (an error payload with 200, a socket that never answers, ...).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from console_scripts import in_process

from solution import evaluate, forecast, model_logging, workspace
from solution.servers import free_port  # noqa: F401  (re-exported)
from wth import data, simulate
from wth.ci.records import Record, Records

REPO_ROOT = Path(__file__).resolve().parents[2]
INITIAL_END = "2013-12-31"
FAKE_SECRET = "wth-FAKE-SECRET-7f3a9c-do-not-leak"
MODEL = "holt_winters_log"  # beats the seasonal naive on the public holdout (relative MASE 0.94)


# --- published drift batches -------------------------------------------------------------------


def write_batches(folder: Path) -> dict[str, str]:
    """The published clean and drifted batches (the grader matches their sha256): the bundled files,
    or, before the bundle is generated, the simulator's same rows written to `folder`."""
    bundled = {kind: REPO_ROOT / "resources" / "data" / f"batch-{kind}.csv.gz" for kind in ("clean", "drifted")}
    if all(path.exists() for path in bundled.values()):
        return {kind: str(path) for kind, path in bundled.items()}
    folder.mkdir(parents=True, exist_ok=True)
    return {kind: str(simulate.write_gzip(simulate.batch_rows(drifted=kind == "drifted"), folder / f"batch-{kind}.csv.gz"))
            for kind in ("clean", "drifted")}


# --- workspaces ----------------------------------------------------------------------------------


def _series(end: str) -> pd.Series:
    return data.daily_series(simulate.window_rows(), "2013-07-31", end)[0]


def _train(ws: workspace.Workspace, series: pd.Series, data_file: str,
           typed_snaive: float | None = None) -> tuple[str, str, forecast.Forecast, dict]:
    """A training step run following the contract; returns (run_id, model_uri, forecast, metrics).
    `typed_snaive`: a baseline typed in instead of backtested (shallow work)."""
    paths = forecast.Paths()  # the backtest's fits, shared with the model's calibration
    chosen = evaluate.backtest(lambda y, n: paths(MODEL, y)[:n], series)
    fitted = forecast.fit(MODEL, series, paths)
    snaive = typed_snaive or forecast.evaluate("snaive", series).metrics["mase"]
    metrics = {**chosen.metrics, "baseline_snaive_mase": snaive, "legacy_arima_mase": 1.17}
    sha = data.sha256_of(Path(data_file))
    with workspace.step("train") as run:
        mlflow.log_params({"model": MODEL, "train_start": f"{series.index[0]:%Y-%m-%d}",
                           "train_end": f"{series.index[-1]:%Y-%m-%d}", "n_obs": str(len(series)),
                           "data_sha256": sha, "eval_start": chosen.window[0], "eval_end": chosen.window[1]})
        mlflow.log_metrics(metrics)
        mlflow.log_input(mlflow.data.from_pandas(series.rename("PaidAmount").reset_index(), source=Path(data_file).as_uri(),
                                                 name=f"transactions-{sha[:12]}"), context="training")
        info = model_logging.log(fitted)
    return run.info.run_id, info.model_uri, fitted, {**metrics, "sha": sha}


def _register(ws, run_id, model_uri, fitted, metrics, **extra) -> str:
    tags = {"run_id": run_id, "data_sha256": metrics["sha"], "train_start": f"{fitted.train_start:%Y-%m-%d}",
            "train_end": f"{fitted.train_end:%Y-%m-%d}", "n_obs": str(len(pd.date_range(fitted.train_start, fitted.train_end))),
            "mase": f"{metrics['mase']:.4f}", **extra}
    if os.environ.get("GITHUB_RUN_ID"):  # as the solution's lineage tags name the CI run that made the version
        tags["build_id"] = os.environ["GITHUB_RUN_ID"]
    return str(workspace.register(ws, model_uri, tags).version)


@contextmanager
def ci_run(ws: workspace.Workspace, repo: Path | None, workflow: str, event: str = "push",
           approve: bool = False) -> Iterator[Record | None]:
    """The pipeline runs made inside as a succeeded CI run of `repo`'s HEAD makes them (its number as
    GITHUB_RUN_ID, its commit as GITHUB_SHA), the run recorded as the runner records it, its log
    showing pytest's summary and, with `approve`, production approved. No repository: no CI run."""
    if repo is None:
        yield None
        return
    records = Records(ws.root)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    number = max((r.number for r in records.all()), default=0) + 1
    record = records.create(number, f".github/workflows/{workflow}", workflow.removesuffix(".yml"), event, sha,
                            "refs/heads/main", {})
    saved = {k: os.environ.get(k) for k in ("GITHUB_RUN_ID", "GITHUB_SHA")}
    os.environ.update(GITHUB_RUN_ID=str(number), GITHUB_SHA=sha)
    try:
        yield record
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    if approve:
        records.approve(number, "production")
    log = records.log_file(number)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("[test] ⭐ Run Main python -m pytest -q\n[test]   | 7 passed in 0.42s\n[test] 🏁  Job succeeded\n")
    records.finish(record, "success", {"test": {"result": "success", "steps": [["python -m pytest -q", "success"]]}})


def _release(ws: workspace.Workspace, repo: Path | None, version: str) -> None:
    with ci_run(ws, repo, "release.yml", "workflow_dispatch", approve=True), \
            workspace.pipeline_run(ws, "release", model_version=version):
        with workspace.step("deploy"):
            mlflow.set_tag("model_version", version)
        with workspace.step("smoke-test"):
            mlflow.log_metric("checks_failed", 0)


def build_workspace(root: Path, stage: str, batches: dict[str, str] | None = None,
                    repo: Path | None = None) -> workspace.Workspace:
    """stage: `empty` (an MLflow store, nothing in it), `trained` (a build pipeline run and a champion),
    `full` (+ a release run with a smoke test, a retrain that promoted version 2 whose comparison is
    also on its evaluate step, drift runs on both batches), `scripted` (shallow work: a plain training
    run with a typed-in baseline, registered outside any pipeline, and a comparison logged outside a
    retrain pipeline). With `repo`, each pipeline is made by a CI run of its HEAD (`ci_run`)."""
    ws = workspace.resolve(root)
    ws.activate()
    if stage == "empty":
        return ws
    data_file = root / "data" / "window.csv"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_text(simulate.to_text(simulate.window_rows()))
    if stage == "scripted":
        run_id, uri, fitted, metrics = _train(ws, _series(INITIAL_END), str(data_file), typed_snaive=1.0)
        workspace.set_champion(ws, _register(ws, run_id, uri, fitted, metrics))
        with mlflow.start_run(run_name="compare"):
            mlflow.log_metrics({"champion_mase": 1.0, "challenger_mase": 0.9})
            mlflow.set_tags({"decision": "promoted", "eval_start": "2014-05-04", "eval_end": "2014-05-31"})
        return ws
    with ci_run(ws, repo, "build.yml"), workspace.pipeline_run(ws, "build"):
        run_id, uri, fitted, metrics = _train(ws, _series(INITIAL_END), str(data_file))
        with workspace.step("register"):
            v1 = _register(ws, run_id, uri, fitted, metrics)
            workspace.set_champion(ws, v1)
    if stage == "trained":
        return ws
    _release(ws, repo, v1)
    with ci_run(ws, repo, "retrain.yml", "workflow_dispatch"), workspace.pipeline_run(ws, "retrain", champion_version=v1):
        run_id, uri, fitted2, metrics2 = _train(ws, _series("2014-05-31"), str(data_file))
        champion_mase, challenger_mase = 1.05, metrics2["mase"]
        promoted = challenger_mase < champion_mase * 0.95
        with workspace.step("evaluate"):  # the comparison on the step too: the newest run that has it
            mlflow.log_metrics({"champion_mase": champion_mase, "challenger_mase": challenger_mase})
        mlflow.log_metrics({"champion_mase": champion_mase, "challenger_mase": challenger_mase, "margin": 0.05,
                            "promoted": float(promoted)})
        with workspace.step("register"):
            v2 = _register(ws, run_id, uri, fitted2, metrics2)
        mlflow.set_tags({"decision": "promoted" if promoted else "rejected", "reason": "test",
                         "eval_start": "2014-05-04", "eval_end": "2014-05-31", "challenger_version": v2})
        if promoted:
            workspace.set_champion(ws, v2)
    if promoted:
        _release(ws, repo, v2)
    for kind, path in (batches or {}).items():
        with ci_run(ws, repo, "drift.yml", "schedule"), \
                workspace.pipeline_run(ws, "drift", batch_sha256=data.sha256_of(Path(path))):
            mlflow.log_metrics({"drift_detected": float(kind == "drifted"), "drift_score": 2.0 if kind == "drifted" else 0.3})
            with tempfile.TemporaryDirectory() as scratch:
                page = Path(scratch) / "drift_report.html"
                page.write_text(f"<html><body>drift report for the {kind} batch</body></html>")
                mlflow.log_artifact(str(page))
    return ws


def champion_forecast(ws: workspace.Workspace) -> tuple[forecast.Forecast, str]:
    mv = workspace.champion(ws)
    ws.activate()
    loaded = mlflow.pyfunc.load_model(f"models:/{ws.model_name}/{mv.version}")
    return loaded.unwrap_python_model().forecast, str(mv.version)


# --- team repositories ---------------------------------------------------------------------------

VALIDATION_TEST = '''
import functools
import os
import pandas as pd

PATH = os.environ.get("WTH_DATA_FILE", "data/TransactionHistory.csv")

@functools.lru_cache(maxsize=1)
def rows():
    with open(PATH, encoding="utf-8") as handle:
        return [line.split("\\t") for line in handle.read().splitlines()]

@functools.lru_cache(maxsize=None)
def column(i):
    return pd.Series([r[i] for r in rows()])

def test_the_file_has_rows():
    assert rows()

def test_nine_columns_everywhere():
    assert all(len(r) == 9 for r in rows())

def test_dates_are_dates():
    pd.to_datetime(column(4), format="%Y-%m-%d %H:%M:%S")

def test_quantities_are_non_negative_integers():
    assert column(6).str.fullmatch(r"\\d+").all()

def test_costs_are_numbers():
    pd.to_numeric(column(7))

def test_transaction_ids_unique():
    assert column(0).is_unique
'''

# the shallow suite of a team in a hurry: one test, two rules (no pandas: it starts fast)
SHALLOW_TEST = '''
import os

def test_data():
    for line in open(os.environ["WTH_DATA_FILE"]):
        fields = line.rstrip("\\n").split("\\t")
        assert len(fields) == 9 and float(fields[6]) >= 0
'''

# an honest team's data-validation suite in plain Python (it starts fast): every rule Challenge 02 names
QUICK_VALIDATION = '''
import datetime, os

def test_the_data_keeps_every_rule():
    """The honest team's suite, in plain Python (it starts fast): every rule Challenge 02 names."""
    ids = set()
    lines = open(os.environ["WTH_DATA_FILE"], encoding="utf-8").read().splitlines()
    assert lines
    for line in lines:
        fields = line.split("\\t")
        assert len(fields) == 9
        datetime.datetime.fromisoformat(fields[4])  # strptime's 15x the cost: 1.5 s of every run
        assert fields[6].isdigit()
        float(fields[7])
        assert fields[0] not in ids
        ids.add(fields[0])
'''

IGNORING_TEST = '''
def test_arithmetic():
    assert 1 + 1 == 2
'''

HANGING_TEST = '''
import time

def test_forever():
    time.sleep(600)
'''

ENV_DUMP_TEST = '''
import os

def test_the_environment_is_clean():
    assert os.environ.get("WTH_ENV_MARKER") == "let-through"  # the one variable the test lets through
    assert "COACH_ADO_PAT" not in os.environ
    assert not [k for k, v in os.environ.items() if "FAKE-SECRET" in v]
    assert os.environ["WTH_DATA_FILE"].endswith("TransactionHistory.csv")
'''

TEAM_SCRIPTS = {"src/train.py": "# the team's training step\n", "src/register.py": "# the team's registration step\n",
                "src/release.py": "# the team's release step\n"}
DRIFT_SCRIPT = "# the team's drift check: compares a new batch with the training data\n"


def _workflow(name: str, on, *steps: str) -> dict:
    return {"name": name, "on": on, "jobs": {name: {"runs-on": "self-hosted", "steps": [
        {"uses": "actions/checkout@v4"}, *({"run": step} for step in steps)]}}}


WORKFLOWS = {  # the good team's .github/workflows (YAML written with a quoted "on" key, as GitHub reads it)
    "build.yml": _workflow("build", {"push": {"branches": ["main"]}}, "python -m pytest -q",
                           "python src/train.py && python src/register.py"),
    "release.yml": _workflow("release", "workflow_dispatch", "python src/release.py"),
    "retrain.yml": _workflow("retrain", "workflow_dispatch", "python src/train.py"),
    "drift.yml": _workflow("drift", {"schedule": [{"cron": "0 6 * * *"}], "workflow_dispatch": None},
                           "python monitoring/drift.py --batch new.csv.gz"),
}
ECHO_DRIFT = _workflow("drift", {"schedule": [{"cron": "0 6 * * *"}]}, "echo drift")


def commit_all(root: Path, message: str = "team work", paths: tuple[str, ...] = ("-A",)) -> None:
    git = ["git", "-C", str(root), "-c", "user.name=team", "-c", "user.email=team@example.invalid"]
    subprocess.run([*git, "add", *paths], check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True)


def build_repo(root: Path, kind: str, test_files: dict[str, str] | None = None) -> Path:
    """A committed team repository. kind: `starter` (the starter project only), `uncommitted` (the
    starter project copied in, never committed), `good` (+ validation tests that use WTH_DATA_FILE,
    build, release, retrain and scheduled drift workflows, the training, registration and drift scripts), `echo-drift`
    (good, but the scheduled workflow only echoes), `ignores-data` (a test that passes whatever the data), `hangs` (a test that
    never ends), `env-dump` (a test that passes only in a clean environment with one marker variable),
    `custom` (the test files given in `test_files`)."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    shutil.copytree(REPO_ROOT / "resources" / "starter", root / "starter")
    if kind == "uncommitted":
        (root / "README.md").write_text("our team\n")
        commit_all(root, "start", ("README.md",))  # something is committed, but not the starter project
        return root
    if kind == "starter":
        commit_all(root)
        return root
    if kind == "custom":
        for name, body in (test_files or {}).items():
            (root / "tests").mkdir(exist_ok=True)
            (root / "tests" / name).write_text(textwrap.dedent(body))
        commit_all(root)
        return root
    tests = root / "tests"
    tests.mkdir()
    body = {"good": VALIDATION_TEST, "echo-drift": VALIDATION_TEST, "ignores-data": IGNORING_TEST,
            "hangs": HANGING_TEST, "env-dump": ENV_DUMP_TEST}[kind]
    (tests / "test_team.py").write_text(textwrap.dedent(body))
    if kind in ("good", "echo-drift"):
        (root / ".github" / "workflows").mkdir(parents=True)
        for name, workflow in {**WORKFLOWS, **({"drift.yml": ECHO_DRIFT} if kind == "echo-drift" else {})}.items():
            (root / ".github" / "workflows" / name).write_text(yaml.safe_dump(workflow, sort_keys=False))
        (root / "monitoring").mkdir()
        (root / "monitoring" / "drift.py").write_text(DRIFT_SCRIPT)
        for path, body in TEAM_SCRIPTS.items():
            (root / path).parent.mkdir(exist_ok=True)
            (root / path).write_text(body)
    commit_all(root)
    return root


@contextmanager
def git_daemon(root: Path) -> Iterator[str]:
    """`git daemon` serving every repository under `root` on a free port of 127.0.0.1, until the block ends;
    yields its base URL (`git://127.0.0.1:PORT`: a repository `root/x.git` is `<base>/x.git`)."""
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={root}",
                               "--listen=127.0.0.1", f"--port={port}", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def write_repo(root: Path, files: dict[str, str | dict]) -> Path:
    """A committed repository holding `files` ({path: text, or a mapping written as YAML})."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False))
    commit_all(root)
    return root


def write_teams(path: Path, teams: list[dict], **top) -> Path:
    path.write_text(yaml.safe_dump({"event": "Test hack", **top, "teams": teams}, sort_keys=False))
    return path


def grade_one(folder: Path, challenge: int | None = None, **entry):
    """One team (named "t", with no endpoint or repository unless `entry` gives them) graded from a teams
    file of its own in `folder`."""
    from grader import runner, teams

    path = write_teams(folder / "teams.yaml", [{"name": "t", "endpoint": None, "repo": None, **entry}])
    return runner.grade(teams.load(path), challenge=challenge)[0]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`wth-grader ARGS` in this process, with `env` on top of its environment while it runs (a new interpreter
    costs seconds of MLflow's import; `python -m grader` runs as a process in test_watch.py, `wth check` in the
    walkthroughs)."""
    from grader import cli

    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        return in_process(cli.main, "wth-grader", *args)
