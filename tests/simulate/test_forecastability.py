"""The bundled series is a fair forecasting problem: model selection (solution.forecast.select) picks a
candidate that beats both the weekly seasonal naive and the data scientists' legacy ARIMA in the
project's backtest, on the window the demo trains on (..2013-12-31) and on the full window.

This runs the real selection (every baseline and candidate, 4 folds each): ~10 s on an idle machine.
"""

from __future__ import annotations

import pytest

from solution import forecast
from wth.config import INITIAL_TRAIN_END, WINDOW_END
from wth.data import bundled_file, daily_series, read_transactions


@pytest.fixture(scope="module")
def series():
    return daily_series(read_transactions(bundled_file()))[0]


@pytest.mark.parametrize("train_end", [INITIAL_TRAIN_END, WINDOW_END])
def test_chosen_model_beats_seasonal_naive_and_legacy_arima(series, train_end):
    selection = forecast.select(series[:train_end])
    mase = {name: backtest.metrics["mase"] for name, backtest in selection.backtests.items()}
    chosen = mase[selection.chosen]
    assert chosen < mase["snaive"], mase
    assert chosen < mase["legacy_arima"], mase
