"""The release pipeline (deploy + smoke test, recorded as a pipeline run), the report that scores through
the live endpoint and renders in headless Chromium, and a smoke test that fails where it must."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import threading
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
import requests
from serve_tools import TRAIN_END, cli, free_port, listening, register

from solution import endpoint, endpoint_clients, workspace
from solution.forecast import Forecast
from wth import analyst_report, smoke
from wth.errors import StepFailed, UsageError

PORT = free_port()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def released(clean_endpoint):
    ws = clean_endpoint
    record = endpoint.release_pipeline(ws, port=PORT)
    return ws, record


def test_release_pipeline_is_recorded_with_its_steps_and_tags(released):
    ws, record = released
    champion = workspace.champion(ws)
    runs = ws.client.search_runs([ws.client.get_experiment_by_name(ws.experiment).experiment_id],
                                 filter_string="tags.`wth.pipeline` = 'release'")
    assert len(runs) == 1
    parent = runs[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["model_version"] == str(champion.version)
    assert parent.data.tags["scoring_uri"] == record.scoring_uri == f"http://127.0.0.1:{PORT}/score"
    steps = ws.client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {run.data.tags["wth.step"]: run.info.status for run in steps} == {"deploy": "FINISHED",
                                                                           "smoke-test": "FINISHED"}


def test_report_scores_through_the_endpoint(released, tmp_path):
    ws, record = released
    path = endpoint_clients.write_report(ws, out=tmp_path / "report.html", steps=14)
    html = path.read_text()
    assert f"version {record.model_version}" in html and record.scoring_uri in html
    assert html.count("<tr") == 15  # header + 14 days
    assert "data:image/png;base64," in html
    assert not re.search(r'(src|href)="(?!data:)', html), "the report must be self-contained"
    with pytest.raises(UsageError, match="outside 1..365"):
        endpoint_clients.write_report(ws, out=tmp_path / "x.html", steps=400)
    with pytest.raises(UsageError, match="not an http"):
        endpoint_clients.write_report(ws, uri="127.0.0.1:5001/score", out=tmp_path / "x.html")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot write the report"):
        endpoint_clients.write_report(ws, out=tmp_path / "file" / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_report_renders_in_headless_chromium(released, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    ws, record = released
    path = endpoint_clients.write_report(ws, out=tmp_path / "report.html", steps=30)
    profile = tmp_path / "profile"
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=90).stdout
    assert 'data-chart="shown"' in dom, "the inline chart did not decode in the browser"
    text = re.sub(r"<[^>]+>", " ", dom.split("<body", 1)[1])
    assert f"transactions-forecast version {record.model_version}" in text
    assert "2014-01-01" in text and "2014-01-30" in text and "2014-01-31" not in text
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1000,800",
                    f"--screenshot={shot}", path.as_uri()], capture_output=True, timeout=90)
    assert shot.stat().st_size > 20_000, "the screenshot is (nearly) blank"


def test_release_without_a_champion_is_bad_usage_and_records_nothing(released):
    ws, record = released
    other = dataclasses.replace(ws, model_name="no-such-model")
    with pytest.raises(UsageError, match="has no champion"):
        endpoint.release_pipeline(other, port=free_port())
    assert endpoint.read_record(ws) == record
    assert len(ws.client.search_runs([ws.client.get_experiment_by_name(ws.experiment).experiment_id],
                                     filter_string="tags.`wth.pipeline` = 'release'")) == 1


def test_a_failed_release_is_recorded_failed_and_the_old_version_keeps_serving(released):
    ws, record = released
    champion = workspace.champion(ws)
    nan = Forecast(model="broken", params={}, train_start=pd.Timestamp("2013-07-31"),
                   train_end=pd.Timestamp(TRAIN_END), path=np.full(365, np.nan), errors=np.zeros((1, 7)))
    broken = register(ws, nan, {})
    workspace.set_champion(ws, broken.version)
    try:
        with pytest.raises(StepFailed, match="exited with code"):
            endpoint.release_pipeline(ws, port=PORT)
    finally:
        workspace.set_champion(ws, champion.version)
    runs = ws.client.search_runs([ws.client.get_experiment_by_name(ws.experiment).experiment_id],
                                 filter_string="tags.`wth.pipeline` = 'release'", order_by=["attributes.start_time DESC"])
    assert runs[0].info.status == "FAILED" and runs[0].data.tags["model_version"] == str(broken.version)
    assert endpoint.read_record(ws) == record
    assert requests.post(record.scoring_uri, json={"steps": 2}, timeout=30).json()["model"]["version"] == \
        record.model_version


class _LiesWith200(BaseHTTPRequestHandler):
    """The original hack's bug: errors answered with HTTP 200."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"error": "model not loaded"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def liar():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LiesWith200)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/score"
    server.shutdown()
    server.server_close()


def test_smoke_test_fails_on_200_with_an_error_payload(liar, released):
    ws, _ = released
    failures = smoke.check(liar)
    assert any("200 with an error payload" in line for line in failures)
    assert any(line.startswith("bad input (steps 0)") for line in failures)
    done = cli("smoke-test", "--workspace", str(ws.root), "--uri", liar)
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("wth-solution smoke-test: ")


def test_smoke_test_flags_the_wrong_version_and_an_unreachable_uri(released):
    ws, record = released
    assert any("expected 99" in line for line in smoke.check(record.scoring_uri, expected_version="99"))
    assert any("not the day after the training end" in line for line in smoke.check(record.scoring_uri, expected_train_end="2013-12-30"))
    assert smoke.check(f"http://127.0.0.1:{free_port()}/score")[0].endswith("unreachable (ConnectionError)")


def test_stop_after_release(released):
    ws, record = released
    assert endpoint.stop(ws) is True
    assert not listening(PORT) and not listening(record.deployment.port)
    with pytest.raises(StepFailed, match="cannot reach"):
        endpoint_clients.write_report(ws, uri=record.scoring_uri)


def test_report_without_acquired_data_shows_the_forecast_only():
    from datetime import datetime

    body = {"forecast": [10.0, 20.0], "dates": ["2014-01-01", "2014-01-02"], "interval": 0.9,
            "lower": [5.0, 15.0], "upper": [15.0, 25.0], "model": {"name": "m", "version": "7"}}
    html = analyst_report.render(body, "http://127.0.0.1:1/score", 2, None, datetime(2026, 1, 1, tzinfo=UTC))
    assert "No acquired data in the workspace: forecast only." in html and "<th>Actual</th>" not in html
    assert "m version 7" in html and html.count("<tr") == 3 and "2026-01-01 00:00:00 UTC" in html
