"""Challenge 02's data-validation tests, as the reference team writes them: the file named by
WTH_DATA_FILE (the grader's), else the bundled data, must be a valid TransactionHistory table."""

import os
from pathlib import Path

import pytest

from wth import data
from wth.errors import UsageError

DEFAULT = Path(__file__).resolve().parent.parent / "resources" / "data" / "TransactionHistory.csv.gz"


@pytest.fixture(scope="module")
def rows():
    path = os.environ.get("WTH_DATA_FILE") or DEFAULT
    try:
        return data.read_transactions(path)
    except UsageError as err:
        pytest.fail(f"invalid transactions file: {err}")


def test_the_layout_has_nine_columns(rows):
    assert list(rows.columns) == data.COLUMNS


def test_transaction_ids_are_unique(rows):
    assert rows["TransactionID"].is_unique


def test_quantities_are_non_negative_integers(rows):
    assert (rows["Quantity"] >= 0).all()


def test_the_daily_series_has_no_gaps(rows):
    series, _ = data.daily_series(rows, *data.span(rows))
    assert series.notna().all() and len(series) == (series.index[-1] - series.index[0]).days + 1
