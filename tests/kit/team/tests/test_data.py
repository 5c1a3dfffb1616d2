"""Data validation: the file named by WTH_DATA_FILE (else the one starter/acquire.py wrote) keeps every
rule of the TransactionHistory layout, one test per rule."""

import pandas as pd
import pytest
from forecasting import data


@pytest.fixture(scope="module")
def raw():
    return data.raw_rows(data.data_file())


@pytest.mark.parametrize("rule", data.RULES)
def test_the_file_keeps_the_rule(raw, rule):
    assert data.RULES[rule](raw) is None


def test_the_daily_series_has_no_gaps(raw):
    series = data.daily_series(data.typed(raw))
    assert series.notna().all() and (series.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
