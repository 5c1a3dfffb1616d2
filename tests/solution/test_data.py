"""Reading and validating Microsoft's TransactionHistory layout, and building the hack's series."""

import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest

from solution import acquisition
from wth import data
from wth.errors import UsageError

GOOD = [
    "100000\t784\t41590\t0\t2013-07-31 00:00:00\tW\t2\t0.0\t2013-07-31 00:00:00",
    "100001\t707\t5001\t1\t2013-07-31 00:00:00\tS\t3\t34.99\t2013-07-31 00:00:00",
    "100002\t708\t5002\t1\t2013-08-02 00:00:00\tS\t1\t20.00\t2013-08-02 00:00:00",
    "100003\t709\t601\t2\t2013-08-02 00:00:00\tP\t4\t10.5\t2013-08-02 00:00:00",
]


def write(tmp_path, lines, name="TransactionHistory.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_parses_the_layout_and_builds_the_daily_mean_with_gaps_interpolated(tmp_path):
    rows = data.read_transactions(write(tmp_path, GOOD))
    assert list(rows.columns) == data.COLUMNS and len(rows) == 4
    series, filled = data.daily_series(rows, "2013-07-31", "2013-08-02")
    # day 1: (2*0 + 3*34.99)/2; day 3: (1*20 + 4*10.5)/2; day 2 has no rows and is interpolated
    assert series.loc["2013-07-31"] == pytest.approx(52.485)
    assert series.loc["2013-08-02"] == pytest.approx(31.0)
    assert series.loc["2013-08-01"] == pytest.approx((52.485 + 31.0) / 2)
    assert filled == 1 and series.index.freqstr == "D"


def test_reads_gzip_and_microsofts_zip_through_the_same_parser(tmp_path):
    plain = write(tmp_path, GOOD)
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    archive = tmp_path / "AdventureWorks-oltp-install-script.zip"
    shifted = [line.replace("1000", "10", 1) for line in GOOD]  # archive ids differ from current ids
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("AdventureWorks-oltp-install-script/TransactionHistory.csv", "\n".join(GOOD))
        z.writestr("AdventureWorks-oltp-install-script/TransactionHistoryArchive.csv", "\n".join(shifted))
        z.writestr("AdventureWorks-oltp-install-script/Person.csv", "unrelated")
    assert data.read_transactions(gz).equals(data.read_transactions(plain))
    assert len(data.read_transactions(archive)) == 8  # both tables of the zip, concatenated


def test_utf16_file_as_some_install_script_csvs_are(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\n".join(GOOD).encode("utf-16"))
    assert len(data.read_transactions(path)) == 4


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda lines: [], "empty"),
        (lambda lines: [lines[0].replace("\t", ",")] + lines[1:], "line 1: expected 9 tab-separated columns, found 1"),
        (lambda lines: lines[:1] + [lines[1] + "\textra"], "wrong layout"),
        (lambda lines: lines[:2] + [lines[2].replace("2013-08-02 00:00:00", "2013-02-30 00:00:00", 1)],
         "line 3: TransactionDate '2013-02-30 00:00:00' is not a valid date"),
        (lambda lines: lines[:1] + [lines[1].replace("34.99", "3x.99")], "line 2: ActualCost '3x.99' is not a valid number"),
        (lambda lines: lines[:1] + [lines[1].replace("\tS\t3\t", "\tS\t2.5\t")], "line 2: Quantity '2.5' is not an integer"),
        (lambda lines: lines + [lines[0]], "duplicate TransactionID 100000"),
        (lambda lines: lines[:1] + [lines[1].replace("\tS\t3\t", "\tS\t-3\t")], "negative Quantity -3"),
        (lambda lines: lines[:1] + [lines[1].replace("\tS\t", "\tX\t")], "line 2: TransactionType 'X' is not a valid type"),
    ],
)
def test_bad_input_is_a_usage_error_with_a_one_line_reason(tmp_path, mutate, reason):
    path = write(tmp_path, mutate(list(GOOD)))
    with pytest.raises(UsageError) as caught:
        data.read_transactions(path)
    message = str(caught.value)
    assert reason in message and "\n" not in message


def test_missing_file_folder_and_binary_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        data.read_transactions(tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="is a folder"):
        data.read_transactions(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x00\xff\xfe\x80" * 10)
    with pytest.raises(UsageError):
        data.read_transactions(binary)


def test_window_without_data_and_inverted_window(tmp_path):
    rows = data.read_transactions(write(tmp_path, GOOD))
    covers = r"\(the data covers 2013-07-31..2013-08-02\)"
    with pytest.raises(UsageError, match=rf"no transactions in the window 2014-01-01..2014-02-01 {covers}"):
        data.daily_series(rows, "2014-01-01", "2014-02-01")
    with pytest.raises(UsageError, match="after --end"):
        data.daily_series(rows, "2013-08-02", "2013-07-31")
    with pytest.raises(UsageError, match="not a date"):
        data.daily_series(rows, "31/07/2013", "2013-08-02")


def test_acquire_records_fingerprint_and_writes_nothing_on_bad_input(tmp_path):
    workspace = tmp_path / "ws"
    bad = write(tmp_path, GOOD + [GOOD[0]], name="bad.csv")
    with pytest.raises(UsageError):
        acquisition.acquire(workspace, str(bad), "2013-07-31", "2013-08-02")
    assert not workspace.exists()
    good = write(tmp_path, GOOD)
    acquired = acquisition.acquire(workspace, str(good), "2013-07-31", "2013-08-02")
    assert acquired.sha256 == data.sha256_of(good) and acquired.rows == 4 and acquired.rows_in_window == 4
    assert acquisition.latest_acquired(workspace) == acquired
    assert acquired.series().equals(data.daily_series(data.read_transactions(good), "2013-07-31", "2013-08-02")[0])


def test_the_real_table(real_table):
    """Microsoft's table as its install script ships it: 113,443 rows; the hack's 305-day series."""
    rows = data.read_transactions(real_table)
    assert len(rows) == 113_443
    assert rows["TransactionType"].value_counts().to_dict() == {"S": 74_575, "W": 31_002, "P": 7_866}
    assert (rows["Quantity"] * rows["ActualCost"]).sum() == pytest.approx(106_147_860.53, abs=0.01)
    series, filled = data.daily_series(rows)
    assert len(series) == 305 and filled == 0
    assert (series.index[0], series.index[-1]) == (pd.Timestamp("2013-07-31"), pd.Timestamp("2014-05-31"))
    by_day = series.groupby(series.index.day_of_week)
    means, medians = by_day.mean(), by_day.median()
    assert all(730 <= means[d] <= 880 for d in range(5))  # the real table: weekday means ≈ 735–875
    assert means[5] == pytest.approx(295, abs=5) and medians[5] == pytest.approx(190, abs=5)
    assert means[6] == pytest.approx(415, abs=5) and medians[6] == pytest.approx(230, abs=5)
    assert series.autocorr(1) == pytest.approx(0.06, abs=0.01)
    assert series.autocorr(7) == pytest.approx(0.44, abs=0.01)
    assert np.isfinite(series).all()


def test_microsoft_download_without_network_says_so_and_writes_nothing(tmp_path, monkeypatch):
    """The real download cannot be exercised here (no network): the failure path is, against a closed
    local port standing in for Microsoft's release URL."""
    import socket

    from wth.errors import StepFailed

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setattr(acquisition, "MICROSOFT_URL", f"http://127.0.0.1:{closed}/AdventureWorks-oltp-install-script.zip")
    with pytest.raises(StepFailed, match=r"cannot download Microsoft's AdventureWorks zip \(no network\?"):
        acquisition.acquire(tmp_path / "ws", "microsoft")
    assert not (tmp_path / "ws").exists()
