"""The challenge-01 notebook is committed with its outputs cleared, runs top to bottom on the bundled
data in a real Jupyter kernel (nbclient), says what its own numbers show, and leaves the better model
to the team: it defines the baselines and nothing that forecasts better."""

import ast
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


BASELINES = ("snaive", "naive", "mean", "legacy_arima")


def test_reports_the_stationarity_test_and_the_backtest(executed):
    text = text_of(executed)
    assert re.search(r"ADF statistic -?\d+\.\d+, p-value \d\.\d{4}", text)
    assert re.search(r"\d+ days 2013-07-31\.\.2013-12-31", text)
    verdicts = dict(re.findall(r"^(\w+) +MASE \d\.\d{3}, relative MASE (\d\.\d{3}): ", text, flags=re.M))
    assert set(verdicts) == set(BASELINES) and verdicts["snaive"] == "1.000"


def test_what_it_says_of_mase_is_what_its_numbers_show(executed):
    """MASE is scaled by the in-sample seasonal naive error, so the seasonal naive's own MASE is not 1:
    the notebook says so, and its numbers show it (above 1 on the bundled 2013 data)."""
    prose = "\n".join("".join(cell.source) for cell in executed.cells if cell.cell_type == "markdown")
    assert "Below 1 beats" not in prose and "relative MASE" in prose
    snaive = re.search(r"^snaive +MASE (\d\.\d{3}),", text_of(executed), flags=re.M)
    assert float(snaive.group(1)) > 1


def test_leaves_the_better_model_to_the_team():
    """The forecasters it defines (functions of `train, steps`) are the baselines, no more: the weekly
    models are hinted at in prose, never written out."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    forecasters = {node.name for node in ast.walk(ast.parse(code)) if isinstance(node, ast.FunctionDef)
                   and [a.arg for a in node.args.args] == ["train", "steps"]}
    assert forecasters == set(BASELINES)
    assert not re.search(r"groupby\(.*day_of_week", code)  # the weekday profile is the team's to write


def test_its_observations_hold_on_the_data_it_reads(bundled_table):
    """The prose's observations about the series: weekends below every weekday, weekend means above their
    medians, the weekly spike in the autocorrelation."""
    from wth import data
    from wth.config import INITIAL_TRAIN_END, SEASON, WINDOW_START

    series, _ = data.daily_series(data.read_transactions(bundled_table), WINDOW_START, INITIAL_TRAIN_END)
    by_day = series.groupby(series.index.day_of_week).agg(["mean", "median"])
    weekdays, weekend = by_day.loc[0:4], by_day.loc[5:6]
    assert weekend["mean"].max() < weekdays["mean"].min()
    assert (weekend["mean"] > 1.15 * weekend["median"]).all()
    assert series.autocorr(SEASON) > max(series.autocorr(1), 2 / len(series) ** 0.5)


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
