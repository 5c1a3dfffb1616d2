"""Stopping the MLflow UI stops it whole: `wth ui` and `wth-solution workspace serve`, asked to stop as a
terminal or a service manager would (SIGTERM; Ctrl-Break on Windows), leave no process of their tree and
no listening port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from serve_tools import (
    CLI,
    WTH,
    free_port,
    listening,
    listening_ports,
    pid_gone,
    tree_pids,
)

from wth import ui as ui_module
from wth.processes import popen, stop_tree

STOP = signal.CTRL_BREAK_EVENT if sys.platform == "win32" else signal.SIGTERM


@pytest.mark.parametrize("which", ["wth ui", "wth-solution workspace serve"])
def test_stopping_the_ui_leaves_no_process_and_no_port(trained_ws, which):
    port = free_port()
    argv = (WTH + ["ui"] if which == "wth ui" else CLI + ["workspace", "serve"]) + \
        ["--workspace", str(trained_ws.root), "--port", str(port)]
    ui = popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        said = [ui.stdout.readline() for _ in range(4)]  # where the UI is, the two pages, what to click once
        experiment = trained_ws.client.get_experiment_by_name(trained_ws.experiment).experiment_id
        view = f"?{ui_module.MACHINE_LEARNING_VIEW}"
        assert f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs{view}" in said[1], said
        assert f"http://127.0.0.1:{port}/#/models{view}" in said[2], said
        assert ui_module.FIRST_VISIT in said[3], said
        deadline = time.monotonic() + 120
        while not listening(port):
            assert ui.poll() is None, f"{which} exited with {ui.returncode} before serving"
            assert time.monotonic() < deadline, f"{which} did not listen on {port} within 120 s"
            time.sleep(0.2)
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        telemetry = requests.get(f"http://127.0.0.1:{port}/ajax-api/3.0/mlflow/ui-telemetry", timeout=30).json()
        assert telemetry["disable_ui_telemetry"] is True  # what the server tells the page it serves
        tree = tree_pids(ui.pid)
        assert len(tree) >= 2, "the CLI and the MLflow server it runs"
        ui.send_signal(STOP)
        assert ui.wait(timeout=60) in (0, 130, -STOP)
        deadline = time.monotonic() + 20
        while not all(pid_gone(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in tree if not pid_gone(pid)] == []
        assert not listening(port) and not listening_ports(tree)
    finally:
        stop_tree(ui.pid, timeout=5)


def test_the_ui_sends_no_telemetry():
    """MLflow 3.2+ sends usage data unless told not to; CI markers and pytest's own variable turn it off too,
    so the probe runs without them: on by default there, off in the environment the UI runs in."""
    markers = ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "TF_BUILD", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")
    clean = {k: v for k, v in os.environ.items() if k not in markers}
    probe = subprocess.run([sys.executable, "-c", "import os, sys\n"
                            "from mlflow.telemetry.utils import is_telemetry_disabled\n"
                            "from wth import ui\n"
                            "before = is_telemetry_disabled()\n"
                            "os.environ.update(ui.environment())\n"
                            "print(before, is_telemetry_disabled())"],
                           env=clean, capture_output=True, text=True, timeout=120)
    assert probe.stdout.split() == ["False", "True"], probe.stdout + probe.stderr
