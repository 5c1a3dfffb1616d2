"""The students' `wth` command as a subprocess against real HTTP endpoints on loopback: the smoke test
passes a minimal contract-compliant endpoint without intervals and fails one that answers 200 with an
error; keys; the report; the MLflow UI's refusal of a folder without a workspace (stopping it is
tests/serve/test_serve_ui.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from console_scripts import WTH
from endpoints import ContractEndpoint


class Flat:
    """The smallest model a team could serve: the same value every day after 2013-12-31."""

    def predict(self, steps: int) -> pd.DataFrame:
        days = pd.date_range("2014-01-01", periods=steps, freq="D")
        return pd.DataFrame({"forecast": [700.0] * steps}, index=days)


def wth(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(WTH + list(args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def endpoint(request):
    served = ContractEndpoint(getattr(request, "param", "good"), Flat())
    yield served
    served.close()


def test_smoke_test_passes_a_contract_compliant_endpoint_without_intervals(endpoint):
    done = wth("smoke-test", "--uri", endpoint.uri, "--train-end", "2013-12-31")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("smoke test passed")
    required = wth("smoke-test", "--uri", endpoint.uri, "--require-interval")
    assert required.returncode == 1 and "required by --require-interval" in required.stdout


@pytest.mark.parametrize("endpoint", ["error200"], indirect=True)
def test_smoke_test_fails_an_endpoint_answering_200_with_an_error(endpoint):
    done = wth("smoke-test", "--uri", endpoint.uri)
    assert done.returncode == 1
    assert "200 with an error payload" in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and done.stderr.startswith("wth smoke-test: ")


def test_smoke_test_checks_what_it_is_told_to_expect(endpoint):
    version = wth("smoke-test", "--uri", endpoint.uri, "--expect-version", "2")
    assert version.returncode == 1 and "serves version 1, expected 2" in version.stdout
    dates = wth("smoke-test", "--uri", endpoint.uri, "--train-end", "2013-12-30")
    assert dates.returncode == 1 and "not the day after the training end (2013-12-31)" in dates.stdout


@pytest.mark.parametrize("endpoint", ["echo"], indirect=True)
def test_a_401_says_whether_the_key_is_missing_or_wrong(endpoint):
    missing = wth("smoke-test", "--uri", endpoint.uri)
    assert missing.returncode == 1 and "wants a key (401): pass --key-env NAME" in missing.stdout
    wrong = wth("smoke-test", "--uri", endpoint.uri, "--key-env", "TEAM_KEY", env={"TEAM_KEY": "not-it"})
    assert wrong.returncode == 1 and "refused the key (401)" in wrong.stdout
    assert endpoint.seen_headers[-1]["Authorization"] == "Bearer not-it"
    unset = wth("smoke-test", "--uri", endpoint.uri, "--key-env", "NO_SUCH_VARIABLE_HERE")
    assert unset.returncode == 2 and "NO_SUCH_VARIABLE_HERE is not set" in unset.stderr


def test_bad_usage_is_one_line_and_exit_2(endpoint):
    done = wth("smoke-test", "--uri", "127.0.0.1:5001/score")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not an http(s) URL" in done.stderr


def test_report_scores_through_the_endpoint_with_the_actuals(endpoint, tmp_path, bundled_table):
    out = tmp_path / "report.html"
    done = wth("report", "--uri", endpoint.uri, "--out", str(out), "--steps", "14", "--data", str(bundled_table))
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert html.count("<tr") == 15 and "data:image/png;base64," in html and "2014-01-14" in html
    # the version it scored, where a reader sees it first: a report left from an older champion says so
    assert "next 14 days, by model version 1</h1>" in html and "(transactions-forecast version 1)</title>" in html
    too_many = wth("report", "--uri", endpoint.uri, "--out", str(tmp_path / "x.html"), "--steps", "400")
    assert too_many.returncode == 2 and not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("endpoint", ["strict"], indirect=True)
def test_report_asks_again_without_interval_where_the_endpoint_refuses_it(endpoint, tmp_path, capsys):
    from wth import cli

    out = tmp_path / "report.html"
    assert cli.main(["report", "--uri", endpoint.uri, "--out", str(out), "--steps", "7"]) == 0, capsys.readouterr().err
    assert out.read_text().count("<tr") == 8
    assert cli.main(["report", "--uri", endpoint.uri, "--out", str(tmp_path / "x.html"), "--steps", "400"]) == 2
    assert not (tmp_path / "x.html").exists()


def test_ui_refuses_a_folder_without_a_workspace(tmp_path):
    done = wth("ui", "--workspace", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no MLflow store" in done.stderr and "Traceback" not in done.stderr


def test_check_comes_from_the_grader_through_the_entry_point_group(tmp_path, capsys):
    """`wth` imports nothing of the grader: `check` (and `handin`) are the grader's `wth.commands` entry points."""
    from wth import cli

    assert sorted(entry.value for entry in cli.entry_points(group=cli.COMMANDS)) == [
        "grader.wth_check:register", "grader.wth_handin:register"]
    assert cli.main(["check", "--config", str(tmp_path / "none.yaml"), "--team", "alpha"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wth check: ") and "no such teams file" in err and err.count("\n") == 1


def test_the_endpoint_commands_start_without_importing_the_grader_or_mlflow():
    """`check` comes from the grader's entry point, which imports the grader (and MLflow) only when it runs."""
    probe = subprocess.run([sys.executable, "-c", "import sys; from wth.cli import build_parser; "
                            "build_parser().parse_args(['smoke-test', '--uri', 'http://127.0.0.1:1/score']); "
                            "print(sorted(m for m in ('grader.checks', 'grader.teams', 'mlflow') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stdout + probe.stderr
