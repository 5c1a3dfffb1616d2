"""Metrics, the rolling-origin protocol, the models and the selection."""

import numpy as np
import pandas as pd
import pytest

from solution import evaluate, forecast
from wth import data


def weekly_series(days=120, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2014-01-01", periods=days, freq="D", name="date")
    profile = np.array([900, 800, 850, 860, 750, 300, 400], dtype=float)
    return pd.Series(profile[index.day_of_week] + rng.normal(0, 60, days), index=index, name="PaidAmount")


def test_accuracy_metrics_by_hand():
    actual, predicted = np.array([10.0, 20.0, 0.0]), np.array([12.0, 16.0, 1.0])
    got = evaluate.accuracy(actual, predicted, scale=2.0)
    assert got["mae"] == pytest.approx(7 / 3)
    assert got["rmse"] == pytest.approx(np.sqrt((4 + 16 + 1) / 3))
    assert got["mape"] == pytest.approx((0.2 + 0.2) / 2 * 100)  # zero actuals are left out of MAPE
    assert got["smape"] == pytest.approx((4 / 22 + 8 / 36 + 2 / 1) / 3 * 100)
    assert got["mase"] == pytest.approx(7 / 3 / 2.0)
    assert evaluate.seasonal_naive_scale(np.arange(10.0), season=7) == 7.0


def test_backtest_refits_on_the_past_only_four_folds_of_seven_days():
    series = weekly_series()
    seen = []

    def spy(train, steps):
        seen.append((train.index[-1], steps))
        return np.full(steps, train.mean())

    result = evaluate.backtest(spy, series)
    assert len(result.folds) == 4 and len(result.forecasts) == 28
    assert result.forecasts.index[0] == series.index[-28] and result.forecasts.index[-1] == series.index[-1]
    # each fold's training data ends the day before its origin: no peeking at the test days
    assert [end + pd.Timedelta(days=1) for end, _ in seen] == result.origins
    assert all(steps == 7 for _, steps in seen)
    assert result.window == (f"{series.index[-28]:%Y-%m-%d}", f"{series.index[-1]:%Y-%m-%d}")


def test_mase_of_the_seasonal_naive_on_a_pure_weekly_pattern_is_zero():
    index = pd.date_range("2014-01-01", periods=84, freq="D")
    series = pd.Series(np.tile([5.0, 1, 2, 3, 4, 9, 7], 12), index=index) + np.arange(84) * 0.0
    series.iloc[:7] += 1  # a nonzero scale
    assert forecast.evaluate("snaive", series).metrics["mase"] == pytest.approx(0.0)


def test_baselines_and_forecast_dates():
    series = weekly_series()
    last_week = series.iloc[-7:].to_numpy()
    snaive = forecast.fit("snaive", series)
    assert np.allclose(snaive.path[:14], np.tile(last_week, 2))
    assert np.allclose(forecast.fit("naive", series).path[:3], series.iloc[-1])
    assert np.allclose(forecast.fit("mean", series).path[:3], series.mean())
    out = snaive.predict(10, interval=0.9)
    assert list(out.columns) == ["forecast", "lower", "upper"]
    assert out.index[0] == series.index[-1] + pd.Timedelta(days=1) and len(out) == 10
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    with pytest.raises(ValueError):
        snaive.predict(0)
    with pytest.raises(ValueError):
        snaive.predict(366)


def test_legacy_arima_is_the_data_scientists_arima_202():
    from statsmodels.tsa.arima.model import ARIMA

    series = weekly_series()
    expected = ARIMA(series.to_numpy(), order=(2, 0, 2)).fit().forecast(5)
    assert np.allclose(forecast.fit("legacy_arima", series).path[:5], expected)


def test_weekly_profile_follows_the_calendar():
    series = weekly_series(days=100, seed=3)
    path = forecast.fit("weekly_profile", series).predict(7)
    recent = series.iloc[-56:]
    expected = recent.groupby(recent.index.day_of_week).median()
    assert np.allclose(path["forecast"].to_numpy(), expected[path.index.day_of_week].to_numpy())


def test_selection_generalises_to_another_real_window(real_table):
    """A different window than the one the target is stated on: the choice still beats both baselines."""
    series, _ = data.daily_series(data.read_transactions(real_table), "2013-07-31", "2014-03-31")
    selection = forecast.select(series)
    best = selection.backtests[selection.chosen].metrics["mase"]
    assert selection.chosen in forecast.CANDIDATES
    assert best < selection.backtests["snaive"].metrics["mase"]
    assert best < selection.backtests["legacy_arima"].metrics["mase"]
