"""Our model on a small series with a clear week: the days asked for, finite, from the day after the
training end, and better than the seasonal naive."""

import numpy as np
import pandas as pd
import pytest
from forecasting import model


@pytest.fixture(scope="module")
def weekly():
    days = pd.date_range("2013-01-07", periods=20 * 7, freq="D")
    level = np.where(days.day_of_week < 5, 800.0, 250.0)
    noise = np.random.default_rng(7).normal(0, 120, len(days))
    return pd.Series(level + noise, index=days)


def test_forecasts_the_days_asked_for_from_the_day_after_training(weekly):
    path = model.forecast(weekly, 30)
    assert len(path) == 30 and np.isfinite(path).all()
    assert path.index[0] == weekly.index[-1] + pd.Timedelta(days=1)


def test_beats_the_seasonal_naive_on_a_weekly_series(weekly):
    assert model.backtest(model.weekday_median, weekly)["mase"] < model.backtest(model.snaive, weekly)["mase"]


def test_our_backtest_scores_as_the_hacks_own_protocol(weekly):
    """The tools ship the hack's backtest (`wth.protocol`, installed with `pip install -e ./tools`): our
    MASE is the one the grader recomputes."""
    from wth import protocol

    ours = model.backtest(model.weekday_median, weekly)["mase"]
    assert ours == pytest.approx(protocol.rolling_mase(model.weekday_median, weekly))
