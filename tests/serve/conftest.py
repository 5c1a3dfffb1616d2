"""Fixtures for the serving tests: one trained workspace for the whole directory (training and an MLflow
store cost seconds on a shared 2-core machine); helpers live in serve_tools.py.

Every endpoint a test module starts is stopped at the module's end by `clean_endpoint`, whatever happened."""

from __future__ import annotations

import pytest

from solution import endpoint, workspace

from serve_tools import REPO_ROOT, TRAIN_END, register


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, request):
    """A workspace with the hack window acquired and a champion trained on its 2013 part.

    The data goes through the product's `acquire`; the model is one Holt-Winters fit logged and registered
    through the product's model and workspace modules rather than the full build pipeline, whose model
    selection backtests nine models (minutes on a shared 2-core machine; tests/solution covers it)."""
    from solution import data, forecast

    ws = workspace.resolve(tmp_path_factory.mktemp("serve-ws"))
    bundled = REPO_ROOT / "resources" / "data" / "TransactionHistory.csv.gz"
    source = bundled if bundled.exists() else request.getfixturevalue("real_table")  # skips without ../shared
    acquired = data.acquire(ws.root, str(source))
    series = acquired.series()[:TRAIN_END]
    version = register(ws, forecast.fit("holt_winters", series), {"mase": "0.9"})
    workspace.set_champion(ws, version.version)
    return ws


@pytest.fixture(scope="module")
def clean_endpoint(trained_ws):
    """The trained workspace, with whatever endpoint a module leaves behind stopped at its end."""
    yield trained_ws
    endpoint.stop(trained_ws)
