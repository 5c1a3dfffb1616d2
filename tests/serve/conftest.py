"""Fixtures for the serving tests: one trained workspace for the whole directory (training and an MLflow
store cost seconds on a shared 2-core machine); helpers live in serve_tools.py.

Every endpoint a test module starts is stopped at the module's end by `clean_endpoint`, whatever happened."""

from __future__ import annotations

import pytest
from serve_tools import REPO_ROOT, TRAIN_END

from solution import endpoint, workspace


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, request):
    """A workspace as `wth-solution pipeline build --train-end 2013-12-31` leaves it: the hack window
    acquired and a champion trained on its 2013 part (bundled data; the real table when it is absent)."""
    from solution import pipelines

    ws = workspace.resolve(tmp_path_factory.mktemp("serve-ws"))
    bundled = REPO_ROOT / "resources" / "data" / "TransactionHistory.csv.gz"
    source = bundled if bundled.exists() else request.getfixturevalue("real_table")  # skips without ../shared
    pipelines.build(ws, source=str(source), train_end=TRAIN_END)
    champion = workspace.champion(ws)
    assert champion is not None and champion.tags["train_end"] == TRAIN_END
    return ws


@pytest.fixture(scope="module")
def clean_endpoint(trained_ws):
    """The trained workspace, with whatever endpoint a module leaves behind stopped at its end."""
    yield trained_ws
    endpoint.stop(trained_ws)
