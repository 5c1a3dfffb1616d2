"""The challenge-01 notebook is committed with its outputs cleared, and it runs top to bottom on the
bundled data in a real Jupyter kernel (nbclient)."""

import os
import re

import nbclient
import nbformat
import pytest
from docs_tools import REPO_ROOT

NOTEBOOK = REPO_ROOT / "resources" / "notebooks" / "challenge-01-time-series.ipynb"


def test_committed_with_outputs_cleared():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.fixture(scope="module")
def executed(bundled_table, tmp_path_factory):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "WTH_DATA_FILE": str(bundled_table),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute(env=env)  # the kernel's environment: the notebook reads WTH_DATA_FILE
    return notebook


def text_of(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_runs_and_draws(executed):
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4  # series, decomposition, ACF/PACF, backtest forecasts


def test_reports_the_stationarity_test_and_the_backtest(executed):
    text = text_of(executed)
    assert re.search(r"ADF statistic -?\d+\.\d+, p-value \d\.\d{4}", text)
    assert re.search(r"\d+ days 2013-07-31\.\.2013-12-31", text)
    last_table = [line for line in text.splitlines() if re.match(r"(legacy_arima|snaive|weekday_mean)\s", line)]
    assert {line.split()[0] for line in last_table} == {"legacy_arima", "snaive", "weekday_mean"}


def test_its_backtest_is_the_hacks_protocol(executed, bundled_table):
    """The notebook writes its own backtest (the lesson); its numbers must be the ones training logs."""
    from solution import forecast
    from wth import data
    from wth.config import INITIAL_TRAIN_END, WINDOW_START

    series, _ = data.daily_series(data.read_transactions(bundled_table), WINDOW_START, INITIAL_TRAIN_END)
    rows = {line.split()[0]: line.split() for line in text_of(executed).splitlines()
            if re.match(r"(legacy_arima|snaive|naive|mean)\s+\d", line)}
    for name in ("snaive", "naive", "mean", "legacy_arima"):
        assert float(rows[name][-1]) == pytest.approx(forecast.evaluate(name, series).metrics["mase"], abs=6e-4), name
