"""Metrics, the rolling-origin protocol, the models and the selection."""

import json

import numpy as np
import pandas as pd
import pytest

from solution import evaluate, forecast
from wth import data, protocol


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
    assert protocol.seasonal_naive_scale(np.arange(10.0), season=7) == 7.0


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


def test_origins_closer_than_the_horizon_overlap_and_train_on_the_past_only():
    series = weekly_series(days=200)
    assert protocol.fold_origins(series) == [172, 179, 186, 193]  # the default: the folds tile the last 28 days
    origins = protocol.fold_origins(series, folds=5, horizon=28, spacing=7)
    assert origins == [144, 151, 158, 165, 172]  # the last one 28 days before the end
    seen = []

    def spy(train, steps):
        seen.append((len(train), steps))
        return np.zeros(steps)

    folds = protocol.rolling_origin(spy, series, folds=5, horizon=28, spacing=7)
    assert seen == [(origin, 28) for origin in origins]
    assert [fold.test.index[0] for fold in folds] == [series.index[origin] for origin in origins]
    assert folds[-1].test.index[-1] == series.index[-1]
    with pytest.raises(ValueError, match="needs at least"):
        protocol.fold_origins(series, folds=30, horizon=28, spacing=7)


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


def days_of(values, start="2014-01-06"):
    index = pd.date_range(start, periods=len(values), freq="D", name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name="PaidAmount")


def test_busy_threshold_splits_the_two_kinds_of_days():
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.uniform(150, 250, 40), rng.uniform(700, 1500, 60)])
    assert 250 < forecast.busy_threshold(y) < 700
    assert forecast.busy_threshold(np.full(30, 5.0)) == pytest.approx(5.0)  # one kind of day only


def test_busy_days_forecasts_workdays_busy_weekends_quiet_and_a_weekday_by_its_own_habit():
    """Workdays busy, weekends quiet, and Tuesdays quiet: a Tuesday's chance of busy is below the other
    workdays' (its own record, starting from its group's chance) and so is its forecast."""
    rng = np.random.default_rng(2)
    index = pd.date_range("2014-01-06", periods=84, freq="D")  # a Monday, 12 weeks
    workday = (index.day_of_week < 5) & (index.day_of_week != 1)
    series = days_of(np.where(workday, rng.uniform(800, 1200, 84), rng.uniform(150, 250, 84)))
    fitted = forecast.fit("busy_days", series)
    path = fitted.predict(28)
    weekday, turn = path.index.day_of_week, forecast.month_turn(path.index)
    busy = (weekday < 5) & (weekday != 1) & ~turn
    assert ((path["forecast"][busy] > 800) & (path["forecast"][busy] < 1200)).all()
    weekend = path["forecast"][weekday >= 5]
    assert ((weekend > 150) & (weekend < 250)).all()
    tuesday = (weekday == 1) & ~turn
    assert fitted.mixture.chance[:28][tuesday].max() < fitted.mixture.chance[:28][busy].min()
    assert path["forecast"][tuesday].max() < path["forecast"][busy].min()
    _, in_sample = forecast.busy_days(series)  # the same rules on the days it was fitted on
    assert np.allclose(in_sample[-7:][weekday[:7] >= 5], path["forecast"].iloc[:7][weekday[:7] >= 5])


def test_busy_days_follows_a_shift_of_the_weekly_pattern():
    """Weekends were busy for nine weeks, then quiet for four (most weekend days of the series are
    busy): the forecast has quiet weekends, and busy workdays."""
    index = pd.date_range("2014-01-06", periods=91, freq="D")
    series = days_of(np.where(index.day_of_week < 5, 1000.0, 200.0))
    series[(index.day_of_week >= 5) & (index < index[-28])] = 1000.0
    path = forecast.fit("busy_days", series).predict(14)["forecast"]
    assert (path[path.index.day_of_week >= 5] == 200.0).all()
    assert (path[path.index.day_of_week < 5] == 1000.0).all()


def test_busy_days_expects_the_reseller_orders_at_the_turn_of_a_month():
    """Every month's first and last day is busy, weekend or not; other weekend days are quiet: a
    weekend day at a month's turn gets the chance (busy + 1) / (days + 2) of such days so far."""
    index = pd.date_range("2013-09-01", periods=182, freq="D")
    series = days_of(np.where(index.day_of_week < 5, 1000.0, 200.0), start="2013-09-01")
    series[forecast.month_turn(index)] = 1400.0
    weekend_turns = np.sum(forecast.month_turn(index) & (index.day_of_week >= 5))
    fitted = forecast.fit("busy_days", series)
    path = fitted.predict(92)["forecast"]  # to 2014-06-01, a Sunday
    turn = forecast.month_turn(path.index) & (path.index.day_of_week >= 5)
    assert turn.sum() == 2 and (path[turn] > 900).all()
    assert np.allclose(fitted.mixture.chance[:92][turn], (weekend_turns + 1) / (weekend_turns + 2))
    assert (path[~forecast.month_turn(path.index) & (path.index.day_of_week >= 5)] == 200.0).all()


def test_a_mixture_gives_its_quantiles_by_hand_and_its_central_intervals():
    from solution.model_code import Mixture

    mixture = Mixture(chance=np.array([0.5, 0.8]), busy=(np.array([1200.0, 1000]), np.array([1.0, 3])),
                      quiet=(np.array([100.0, 200]), np.array([1.0, 1])))
    # day 0: 0.25 <= 1 - 0.5, the quiet 0.5 quantile; day 1: the busy (0.25 - 0.2) / 0.8 quantile
    assert list(mixture.quantile(0.25)) == [100.0, 1000.0]
    assert list(mixture.quantile(0.9)) == [1200.0, 1200.0]  # busy (0.9 - 0.5) / 0.5 = 0.8 > 3/4 of the weight
    path = np.resize(mixture.quantile(0.5), 365)
    model = forecast.Forecast("x", {}, pd.Timestamp("2014-01-01"), pd.Timestamp("2014-01-31"), path,
                              np.full((1, 28), np.nan), Mixture(np.resize(mixture.chance, 365), mixture.busy, mixture.quiet))
    out = model.predict(2, interval=0.8)  # no calibration errors, no levels: the mixture's 0.1 and 0.9 quantiles
    assert list(out["forecast"]) == [200.0, 1000.0]
    assert list(out["lower"]) == [100.0, 100.0] and list(out["upper"]) == [1200.0, 1200.0]
    # the smallest central level that holds a day: 1000 is above day 0's median, 0.5 of the weight lies
    # below it (2 * 0.5 - 1 = 0); 100 lies at day 1's bottom (its quiet 0.2, 1 - 2 * 0.1 = 0.8)
    held = mixture.held(np.array([1000.0, 100.0]))
    assert np.allclose(held, [0.0, 0.8], atol=2e-6) and (held >= [0.0, 0.8]).all()
    assert mixture.quantile((1 + held[0]) / 2)[0] >= 1000 and mixture.quantile((1 - held[1]) / 2)[1] <= 100


def test_a_mixture_widens_its_bands_by_week_as_its_rolling_origins_needed():
    """The levels that held the calibration days, by week of the horizon: the 0.8 interval takes, in each
    week, the conformal 0.8 quantile of that week's levels, made non-decreasing over the weeks; days past
    the calibrated weeks keep the last week's level."""
    from solution.model_code import Mixture

    values = np.arange(1.0, 101.0)
    levels = np.column_stack([np.full((9, 7), level) for level in (0.5, 0.7, 0.6, 0.9)])  # week 3 needed less
    mixture = Mixture(chance=np.zeros(60), busy=(np.array([]), np.array([])), quiet=(values, np.ones(100)),
                      levels=levels)
    lower, upper = mixture.central(0.8)
    by_week = [0.5, 0.65, 0.65, 0.9]  # weeks 2 and 3 pooled: the mean of 0.7 and 0.6
    expected = np.concatenate([np.repeat(by_week, 7), np.full(32, 0.9)])
    assert np.allclose(lower, mixture.quantile((1 - expected) / 2)) and np.allclose(upper, mixture.quantile((1 + expected) / 2))
    width = upper - lower
    assert (np.diff(width) >= 0).all() and width[-1] > width[0]
    mixture.levels = np.full((0, 28), np.nan)  # no origin had four weeks before it: the plain quantiles
    assert np.allclose(mixture.central(0.8)[1], mixture.quantile(0.9))


def test_recent_origins_weigh_most_in_a_mixtures_levels():
    """With `half_life` the k-th origin's levels weigh 0.5 ** (k / half_life) and the day to come 1: the
    weighted conformal quantile is the smallest level whose weight, with the smaller ones', reaches the
    interval times the total plus 1."""
    from solution.model_code import Mixture

    values = np.arange(1.0, 101.0)
    levels = np.full((4, 7), 0.9)
    levels[:2] = 0.5  # the two most recent origins needed narrower bands than the two before
    mixture = Mixture(chance=np.zeros(7), busy=(np.array([]), np.array([])), quiet=(values, np.ones(100)),
                      levels=levels)
    assert np.allclose(mixture.central(0.6)[1], mixture.quantile(0.95))  # equal weights: rank ceil(29 * 0.6) = 18 of 28, a 0.9
    mixture.half_life = 1.0  # weights 1, 1/2, 1/4, 1/8 by origin: the 0.5s weigh 7 * 1.5 = 10.5 of 7 * 1.875 + 1
    assert np.allclose(mixture.central(0.6)[1], mixture.quantile(0.75))
    assert np.allclose(mixture.central(0.8)[1], mixture.quantile(0.95))  # 0.8 * 14.125 > 10.5: a 0.9


def test_selection_generalises_to_another_real_window(real_table):
    """A different window than the one the target is stated on: the choice still beats both baselines."""
    series, _ = data.daily_series(data.read_transactions(real_table), "2013-07-31", "2014-03-31")
    selection = forecast.select(series)
    best = selection.backtests[selection.chosen].metrics["mase"]
    assert set(selection.horizon_mase) == set(forecast.CANDIDATES)
    assert selection.chosen == min(selection.horizon_mase, key=selection.horizon_mase.__getitem__)
    assert best < selection.backtests["snaive"].metrics["mase"]
    assert best < selection.backtests["legacy_arima"].metrics["mase"]


def test_horizon_errors_come_from_refits_at_weekly_origins_before_the_end():
    series = weekly_series(days=120)
    seen = []

    def spy(train, steps):
        seen.append((len(train), steps))
        return np.full(steps, 100.0)

    errors = evaluate.horizon_errors(spy, series)
    assert errors.shape == (evaluate.CALIBRATION_ORIGINS, 28)
    assert seen == [(120 - 7 * k, 28) for k in range(1, 9)]  # each origin refits on the days before it
    values = series.to_numpy()
    assert np.allclose(errors[1, :14], values[106:120] - 100)  # origin 14 days before the end
    assert np.isnan(errors[1, 14:]).all()  # days past the end of the series are unknown
    assert not np.isnan(errors[3:]).any()  # origins 28+ days back see all 28 days
    # a short series: only origins with four weeks of training before them
    assert evaluate.horizon_errors(spy, series.iloc[:50]).shape == (3, 28)


def test_horizon_mase_counts_each_calibration_origin_once_over_the_days_seen_after_it():
    series = weekly_series(days=120)
    values = series.to_numpy()

    def constant(train, steps):
        return np.full(steps, 100.0)

    by_origin = [np.mean(np.abs(values[120 - 7 * k : 120 - 7 * k + 28] - 100)) / protocol.seasonal_naive_scale(values[: 120 - 7 * k])
                 for k in range(1, evaluate.CALIBRATION_ORIGINS + 1)]  # the most recent origins saw 7, 14, 21 days
    assert evaluate.horizon_mase(constant, series) == pytest.approx(np.mean(by_origin))


def test_interval_score_by_hand():
    got = evaluate.interval_accuracy(np.array([5.0, 0.0, 12.0]), np.array([4.0, 1.0, 8.0]),
                                     np.array([6.0, 3.0, 10.0]), level=0.8)
    assert got["coverage"] == pytest.approx(1 / 3)
    assert got["width"] == pytest.approx(2.0)
    assert got["winkler"] == pytest.approx((2 + (2 + 10 * 1) + (2 + 10 * 2)) / 3)  # 2/alpha = 10


def known_errors(steps=28, origins=10):
    """errors[k, h] = (h + 1) * z_k: the scale grows linearly with the step, the scores are z / mean|z|."""
    z = np.array([-3.0, -1, -1, 0, 1, 1, 2, 2, 4, 6])[:origins]
    return np.outer(z, np.arange(1, steps + 1)), z


def test_bands_are_conformal_quantiles_of_the_scaled_errors():
    errors, z = known_errors()
    model = forecast.Forecast("x", {}, pd.Timestamp("2014-01-01"), pd.Timestamp("2014-01-31"),
                              np.full(365, 1000.0), errors)
    scale = model.scale()
    assert np.allclose(scale[:28], np.arange(1, 29) * np.mean(np.abs(z)))
    scores = np.sort(z / np.mean(np.abs(z)))  # 28 copies of each: n = 280
    out = model.predict(28, interval=0.8)
    # rank ceil(281 * 0.9) = 253 of 280 from the top, 280 - 253 + 1 = 28 from the bottom
    assert np.allclose(out["upper"] - out["forecast"], np.repeat(scores, 28)[252] * scale[:28])
    assert np.allclose(out["forecast"] - out["lower"], -np.repeat(scores, 28)[27] * scale[:28])
    # skewed errors give asymmetric bands: more room above than below
    assert (out["upper"] - out["forecast"]).iloc[-1] > (out["forecast"] - out["lower"]).iloc[-1]


def test_bands_widen_with_the_horizon_and_past_the_calibrated_steps_like_sqrt():
    errors, _ = known_errors()
    errors[:, 10] = 0.0  # a step that happened to forecast well does not narrow the bands
    errors[-1, 20:] = np.nan  # the most recent origin saw fewer days
    model = forecast.Forecast("x", {}, pd.Timestamp("2014-01-01"), pd.Timestamp("2014-01-31"),
                              np.full(365, 1000.0), errors)
    out = model.predict(365, interval=0.9)
    above = (out["upper"] - out["forecast"]).to_numpy()
    assert (np.diff(above) >= -1e-9).all() and above[27] > above[0]
    assert np.allclose(above[28:] / above[27], np.sqrt(np.arange(29, 366) / 28))
    wider = model.predict(28, interval=0.95)
    assert (wider["upper"] >= out["upper"].iloc[:28]).all() and (wider["lower"] <= out["lower"].iloc[:28]).all()


def test_bands_contain_the_forecast_and_stay_non_negative_even_with_biased_errors():
    errors = np.abs(known_errors()[0]) + 50.0  # every error positive: the model under-forecast
    path = np.concatenate([np.full(14, 5.0), np.full(351, 500.0)])  # small forecasts: lower would go < 0
    model = forecast.Forecast("x", {}, pd.Timestamp("2014-01-01"), pd.Timestamp("2014-01-31"), path, -errors)
    out = model.predict(60, interval=0.9)
    assert (out["lower"] >= 0).all() and (out["lower"] <= out["forecast"]).all()
    assert (out["forecast"] <= out["upper"]).all()
    assert (out["upper"] == out["forecast"]).all()  # all errors negative: no room above the forecast


def test_a_model_without_calibration_errors_refuses_intervals_but_forecasts():
    model = forecast.Forecast("x", {}, pd.Timestamp("2014-01-01"), pd.Timestamp("2014-01-31"),
                              np.full(365, 3.0), np.full((2, 28), np.nan))
    assert len(model.predict(7)) == 7
    with pytest.raises(ValueError, match="no calibration errors"):
        model.predict(7, interval=0.9)


def test_fitted_intervals_cover_about_their_level_on_fresh_data():
    """Weekly pattern + noise, 40 independent series: 28 future days each against the fitted bands."""
    hits = {0.8: [], 0.95: []}
    for seed in range(40):
        series = weekly_series(days=148, seed=seed)
        train, future = series.iloc[:120], series.iloc[120:]
        fitted = forecast.fit("weekly_profile", train)
        for level in hits:
            out = fitted.predict(28, interval=level)
            hits[level].append(evaluate.interval_accuracy(future, out["lower"], out["upper"], level)["coverage"])
    assert abs(np.mean(hits[0.8]) - 0.8) < 0.05
    assert abs(np.mean(hits[0.95]) - 0.95) < 0.03


def test_intervals_on_the_real_series_cover_their_level_and_busy_days_scores_better(real_table):
    """24 weekly origins over the real window, 28 days each, every model refitted and calibrated at each
    origin on the days before it: the weekly profile's conformal bands (the cheapest candidate to refit)
    cover their level within three points; busy_days' own quantiles, at the levels its rolling origins
    needed, cover their level within two points, with a lower interval (Winkler) score at every level,
    and are wider in the fourth week of the horizon than in the first."""
    series, _ = data.daily_series(data.read_transactions(real_table))
    got = {(name, level): [] for name in ("weekly_profile", "busy_days") for level in (0.8, 0.9, 0.95)}
    weeks = {level: [] for level in (0.8, 0.9, 0.95)}  # busy_days' mean width in the first and the fourth week
    for k in range(24):
        origin = len(series) - 28 - 7 * k
        actual = series.iloc[origin : origin + 28]
        for name in ("weekly_profile", "busy_days"):
            fitted = forecast.fit(name, series.iloc[:origin])
            for level in (0.8, 0.9, 0.95):
                out = fitted.predict(28, interval=level)
                got[name, level].append(evaluate.interval_accuracy(actual, out["lower"], out["upper"], level))
                if name == "busy_days":
                    width = (out["upper"] - out["lower"]).to_numpy()
                    weeks[level].append([width[:7].mean(), width[-7:].mean()])
    mean = {key: {part: np.mean([g[part] for g in runs]) for part in ("coverage", "winkler")} for key, runs in got.items()}
    for level in (0.8, 0.9, 0.95):
        profile, busy = mean["weekly_profile", level], mean["busy_days", level]
        assert abs(profile["coverage"] - level) <= 0.03, f"{level:.0%} interval covered {profile['coverage']:.1%}"
        assert abs(busy["coverage"] - level) <= 0.02, f"busy_days' {level:.0%} interval covered {busy['coverage']:.1%}"
        assert busy["winkler"] < profile["winkler"], (level, busy, profile)
        first, last = np.mean(weeks[level], axis=0)
        assert last > first, f"busy_days' {level:.0%} band: {first:.0f} wide in the first week, {last:.0f} in the fourth"


def test_the_model_code_imports_only_its_declared_requirements():
    import ast
    import sys

    from solution import model_code

    tree = ast.parse(open(model_code.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"mlflow", "numpy", "pandas"}


def test_the_artifact_round_trips_with_unknown_days_and_a_mixture():
    from solution import model_code

    for name in ("snaive", "busy_days"):
        fitted = forecast.fit(name, weekly_series())
        back = model_code.from_json(json.loads(json.dumps(model_code.to_json(fitted))))
        assert np.isnan(back.errors).sum() == np.isnan(fitted.errors).sum() > 0
        assert (back.mixture is None) == (name == "snaive")
        assert np.allclose(back.predict(60, 0.9).to_numpy(), fitted.predict(60, 0.9).to_numpy())
    assert back.mixture.half_life == fitted.mixture.half_life == forecast.AMOUNT_HALF_LIFE_WEEKS
    # an artifact from before the levels' weights were recorded weighs every origin alike, as it did
    old = model_code.to_json(fitted)
    del old["mixture"]["half_life"]
    equal = model_code.from_json(old)
    assert equal.mixture.half_life is None
    fitted.mixture.half_life = None
    assert np.allclose(equal.predict(60, 0.9).to_numpy(), fitted.predict(60, 0.9).to_numpy())
    # an artifact from before the levels were recorded loads, and gives the mixture's plain quantiles
    assert np.isfinite(fitted.mixture.levels).sum() > 100
    del old["mixture"]["levels"]
    plain = model_code.from_json(old).predict(60, 0.9)
    assert np.allclose(plain["upper"], np.maximum(fitted.mixture.quantile(0.95)[:60], plain["forecast"]))


def test_a_calibration_refit_that_fails_numerically_leaves_only_its_origin_out(monkeypatch):
    series = weekly_series()
    naive = forecast.MODELS["naive"]

    def flaky(y):
        if len(y) == len(series) - 21:
            raise np.linalg.LinAlgError("LU decomposition error.")
        return naive(y)

    monkeypatch.setitem(forecast.MODELS, "naive", flaky)
    fitted = forecast.fit("naive", series)
    assert np.isnan(fitted.errors[2]).all() and np.isfinite(fitted.errors[3]).all()
    out = fitted.predict(28, interval=0.9)
    assert (out["upper"] > out["forecast"]).all()
