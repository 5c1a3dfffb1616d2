"""The bundled simulated data: layout, calibration against the real table's facts (resources/data/README.md),
reproducible bytes, the batches after the window and the coach's holdout.

Calibration tolerances are in the test names: the real value, then the accepted band. The bands are
wider than the seed-to-seed spread of the simulator would need for the committed seed, narrow enough
that a simulator without the weekly structure, the weekend lows or the persistence fails them.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wth import simulate
from wth.data import daily_series, read_transactions
from wth.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = REPO_ROOT / "resources" / "data"
LINE = re.compile(r"\d+\t\d+\t\d+\t\d+\t(\d{4}-\d\d-\d\d) 00:00:00\t[WSP]\t[1-9]\d*\t\d+\.\d{4}\t\1 00:00:00")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return read_transactions(BUNDLE / "TransactionHistory.csv.gz")


@pytest.fixture(scope="module")
def series(rows) -> pd.Series:
    values, filled = daily_series(rows)
    assert filled == 0
    return values


@pytest.fixture(scope="module")
def by_weekday(series) -> pd.DataFrame:
    return series.groupby(series.index.day_of_week).agg(["mean", "median", "std"])


def batch_series(rows: pd.DataFrame) -> pd.Series:
    return daily_series(rows, "2014-06-01", "2014-06-28")[0]


def text_of(name: str) -> str:
    return gzip.decompress((BUNDLE / name).read_bytes()).decode("ascii")


# --- layout ---------------------------------------------------------------------------------------


def test_every_line_is_in_microsofts_transactionhistory_layout():
    for name in simulate.FILES:
        text = text_of(name)
        assert text.endswith("\n") and "\r" not in text
        lines = text[:-1].split("\n")
        bad = [line for line in lines if not LINE.fullmatch(line)]
        assert not bad, f"{name}: {len(bad)} lines off the layout, e.g. {bad[0]!r}"


def test_ids_start_at_100000_and_increase_without_gaps(rows):
    ids = rows["TransactionID"].to_numpy()
    assert ids[0] == 100000
    assert (np.diff(ids) == 1).all()


def test_quantities_and_costs_are_valid_and_work_orders_cost_nothing(rows):
    assert (rows["Quantity"] >= 1).all()
    assert (rows["ActualCost"] >= 0).all()
    assert (rows.loc[rows["TransactionType"] == "W", "ActualCost"] == 0).all()
    assert (rows.loc[rows["TransactionType"] != "W", "ActualCost"] > 0).all()


def test_window_is_the_305_days_of_the_hack(series):
    assert len(series) == 305
    assert (series.index[0], series.index[-1]) == (pd.Timestamp("2013-07-31"), pd.Timestamp("2014-05-31"))


def test_rows_per_day_358_within_300_to_420_and_type_mix_66_28_6_within_5_points(rows):
    # real window: 109,249 rows in 305 days: 66.3% S, 28.2% W, 5.5% P
    assert 300 <= len(rows) / 305 <= 420
    share = rows["TransactionType"].value_counts(normalize=True)
    assert abs(share["S"] - 0.663) <= 0.05
    assert abs(share["W"] - 0.282) <= 0.05
    assert abs(share["P"] - 0.055) <= 0.03


# --- calibration of the hack's series -------------------------------------------------------------


def test_weekday_means_735_to_875_within_650_to_950(by_weekday):
    assert by_weekday["mean"][:5].between(650, 950).all(), by_weekday["mean"].round(0).tolist()


def test_saturday_mean_295_within_30_percent_median_190_within_25_percent(by_weekday):
    assert abs(by_weekday["mean"][5] / 295 - 1) <= 0.30
    assert abs(by_weekday["median"][5] / 190 - 1) <= 0.25


def test_sunday_mean_415_within_30_percent_median_230_within_25_percent(by_weekday):
    assert abs(by_weekday["mean"][6] / 415 - 1) <= 0.30
    assert abs(by_weekday["median"][6] / 230 - 1) <= 0.25


def test_std_400_on_every_weekday_within_200_to_520(by_weekday):
    assert by_weekday["std"].between(200, 520).all(), by_weekday["std"].round(0).tolist()


def test_lag7_autocorrelation_044_within_010(series):
    assert abs(series.autocorr(7) - 0.44) <= 0.10


def test_lag1_autocorrelation_006_within_010(series):
    assert abs(series.autocorr(1) - 0.06) <= 0.10


def test_monthly_means_413_to_830_within_350_to_950_and_july_2013_1346_within_20_percent(series):
    monthly = series.resample("MS").mean()
    assert abs(monthly.iloc[0] / 1346 - 1) <= 0.20
    assert monthly.iloc[1:].between(350, 950).all(), monthly.round(0).tolist()


# --- the files --------------------------------------------------------------------------------------


def test_new_data_is_exactly_the_2014_rows_of_the_window():
    window, new = text_of("TransactionHistory.csv.gz"), text_of("new-data-2014.csv.gz")
    assert new.split("\t", 5)[4] == "2014-01-01 00:00:00"
    assert window.endswith(new) and window[: -len(new)].endswith("2013-12-31 00:00:00\n")


def test_regenerating_the_bundle_gives_byte_identical_files(tmp_path):
    cli = Path(sys.executable).parent / "wth-solution"
    done = subprocess.run([str(cli), "simulate", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in simulate.FILES:
        assert (tmp_path / name).read_bytes() == (BUNDLE / name).read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(simulate.FILES)


def test_batches_continue_after_the_window(rows):
    for name in ("batch-clean.csv.gz", "batch-drifted.csv.gz"):
        batch = read_transactions(BUNDLE / name)
        assert batch["TransactionID"].iloc[0] == rows["TransactionID"].iloc[-1] + 1
        days = batch["TransactionDate"].dt.normalize()
        assert (days.min(), days.max(), days.nunique()) == (pd.Timestamp("2014-06-01"), pd.Timestamp("2014-06-28"), 28)


# --- drift ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(series) -> pd.Series:
    return series["2014-03-01":]  # the last three months of the window


def weekdays(s: pd.Series) -> pd.Series:
    return s[s.index.day_of_week < 5]


def weekends(s: pd.Series) -> pd.Series:
    return s[s.index.day_of_week >= 5]


def test_drifted_batch_differs_clearly_ks_p_below_1e3_weekdays_2x_weekends_below_20_percent(reference):
    batch = batch_series(read_transactions(BUNDLE / "batch-drifted.csv.gz"))
    assert stats.ks_2samp(batch, reference).pvalue < 1e-3
    assert stats.ks_2samp(weekdays(batch), weekdays(reference)).pvalue < 1e-4
    assert stats.ks_2samp(weekends(batch), weekends(reference)).pvalue < 1e-4
    assert weekdays(batch).mean() >= 2 * weekdays(reference).mean()
    assert weekends(batch).mean() <= 0.2 * weekends(reference).mean()


def test_clean_batch_is_like_the_last_months_ks_p_above_02_weekday_means_within_25_percent(reference):
    batch = batch_series(read_transactions(BUNDLE / "batch-clean.csv.gz"))
    for part in (lambda s: s, weekdays, weekends):
        assert stats.ks_2samp(part(batch), part(reference)).pvalue > 0.2
    assert abs(weekdays(batch).mean() / weekdays(reference).mean() - 1) <= 0.25


# --- the coach's holdout ------------------------------------------------------------------------------


def test_holdouts_with_two_seeds_differ_and_each_parses(tmp_path, rows):
    first, second = simulate.holdout_rows(11), simulate.holdout_rows(12)
    assert not batch_series(first).equals(batch_series(second))
    assert batch_series(simulate.holdout_rows(11)).equals(batch_series(first))  # a seed fixes the holdout
    for seed, frame in ((11, first), (12, second)):
        path = tmp_path / f"holdout-{seed}.csv"
        path.write_text(simulate.to_text(frame))
        parsed = read_transactions(path)
        pd.testing.assert_frame_equal(parsed, frame, check_dtype=False)
        assert parsed["TransactionID"].iloc[0] == rows["TransactionID"].iloc[-1] + 1
        assert len(batch_series(parsed)) == 28


def test_holdout_can_start_later_but_not_inside_the_window_nor_with_a_negative_seed():
    later = simulate.holdout_series(11, start="2014-06-15", days=7)
    assert (later.index[0], len(later)) == (pd.Timestamp("2014-06-15"), 7)
    assert later.equals(batch_series(simulate.holdout_rows(11))["2014-06-15":"2014-06-21"])
    with pytest.raises(UsageError):
        simulate.holdout_rows(11, start="2014-05-01")
    with pytest.raises(UsageError):
        simulate.holdout_rows(-1)


def test_simulate_into_an_unwritable_place_says_why_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cli = Path(sys.executable).parent / "wth-solution"
    done = subprocess.run([str(cli), "simulate", "--out", str(blocker / "data")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot write" in done.stderr
