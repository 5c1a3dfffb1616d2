"""AdventureWorks transactions: read Microsoft's TransactionHistory layout, validate it and build the
hack's daily series.

One code path for every source: Microsoft's install-script zip, a TransactionHistory(Archive).csv,
and the bundled simulated data (same layout, gzip-compressed) all go through `read_transactions`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd

from .config import WINDOW_END, WINDOW_START, bundled_data
from .errors import UsageError
from .workspace_contract import WINDOW_FILE

COLUMNS = [
    "TransactionID",
    "ProductID",
    "ReferenceOrderID",
    "ReferenceOrderLineID",
    "TransactionDate",
    "TransactionType",
    "Quantity",
    "ActualCost",
    "ModifiedDate",
]
INT_COLUMNS = ["TransactionID", "ProductID", "ReferenceOrderID", "ReferenceOrderLineID", "Quantity"]
TABLE_FILES = ("TransactionHistory.csv", "TransactionHistoryArchive.csv")


def bundled_file() -> Path:
    """The bundled TransactionHistory file of the hack's window."""
    return bundled_data() / WINDOW_FILE


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # some install-script CSVs are UTF-16
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{name}: not a text file in the TransactionHistory layout") from None


def _table_texts(path: Path) -> list[tuple[str, str]]:
    """(name, text) of every TransactionHistory table in a CSV, a .gz or Microsoft's zip."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, expected a TransactionHistory CSV or the install-script zip")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if Path(m).name in TABLE_FILES]
            if not members:
                raise UsageError(f"{path}: the zip holds neither of {', '.join(TABLE_FILES)}")
            return [(f"{path}!{m}", _decode(archive.read(m), f"{path}!{m}")) for m in members]
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise UsageError(f"{path}: broken gzip file ({err})") from None
    return [(str(path), _decode(raw, str(path)))]


def _parse_table(name: str, text: str) -> pd.DataFrame:
    if not text.strip():
        raise UsageError(f"{name}: the file is empty")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep="\t", header=None, names=COLUMNS, dtype=str,
            keep_default_na=False, skip_blank_lines=True,
        )
    except pd.errors.ParserError as err:
        raise UsageError(f"{name}: wrong layout, expected 9 tab-separated columns ({err})".splitlines()[0]) from None
    line = frame.index + 1  # no header, blank lines are rare enough to ignore in line numbers
    short = (frame == "").any(axis=1)
    if short.any():
        first = int(line[short.to_numpy()][0])
        found = int((frame.iloc[first - 1] != "").sum())
        raise UsageError(f"{name}: line {first}: expected 9 tab-separated columns, found {found}")
    parsed = pd.DataFrame(index=frame.index)
    for column in COLUMNS:
        values = frame[column].str.strip()
        if column in ("TransactionDate", "ModifiedDate"):
            out = pd.to_datetime(values, format="ISO8601", errors="coerce")
        elif column == "TransactionType":
            out = values
        else:
            out = pd.to_numeric(values, errors="coerce")
        bad = out.isna() if column != "TransactionType" else ~values.isin(["W", "S", "P"])
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            kind = {"TransactionDate": "date", "ModifiedDate": "date", "TransactionType": "type W/S/P"}.get(column, "number")
            raise UsageError(f"{name}: line {first + 1}: {column} {frame[column].iloc[first]!r} is not a valid {kind}")
        if column in INT_COLUMNS:
            if (out % 1 != 0).any():
                first = int((out % 1 != 0).to_numpy().nonzero()[0][0])
                raise UsageError(f"{name}: line {first + 1}: {column} {frame[column].iloc[first]!r} is not an integer")
            out = out.astype("int64")
        parsed[column] = out
    return parsed


def read_transactions(path: str | Path) -> pd.DataFrame:
    """All rows of the TransactionHistory table(s) in `path`, validated; `UsageError` on bad input."""
    path = Path(path)
    frames = [_parse_table(name, text) for name, text in _table_texts(path)]
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    duplicated = rows["TransactionID"].duplicated()
    if duplicated.any():
        raise UsageError(
            f"{path}: duplicate TransactionID {int(rows['TransactionID'][duplicated].iloc[0])} "
            f"({int(duplicated.sum())} duplicated rows)"
        )
    negative = rows["Quantity"] < 0
    if negative.any():
        first = rows[negative].iloc[0]
        raise UsageError(f"{path}: negative Quantity {int(first['Quantity'])} in TransactionID {int(first['TransactionID'])}")
    if (rows["ActualCost"] < 0).any():
        first = rows[rows["ActualCost"] < 0].iloc[0]
        raise UsageError(f"{path}: negative ActualCost in TransactionID {int(first['TransactionID'])}")
    return rows


def parse_day(value: str, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(datetime.strptime(str(value), "%Y-%m-%d"))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date in YYYY-MM-DD form") from None


def daily_series(rows: pd.DataFrame, start: str = WINDOW_START, end: str = WINDOW_END) -> tuple[pd.Series, int]:
    """The hack's series: daily mean of PaidAmount = Quantity * ActualCost, gaps interpolated.

    Returns the series over [start, end] (inclusive, daily frequency) and how many days were filled.
    """
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if first > last:
        raise UsageError(f"empty window: --start {start} is after --end {end}")
    day = rows["TransactionDate"].dt.normalize()
    inside = rows[(day >= first) & (day <= last)]
    if inside.empty:
        raise UsageError(f"no transactions in the window {start}..{end} (the data covers {'..'.join(span(rows))})")
    paid = inside["Quantity"] * inside["ActualCost"]
    daily = paid.groupby(day[inside.index]).mean()
    # the window is trimmed to the days that have data at its edges: interpolation fills inner gaps only
    index = pd.date_range(daily.index.min(), daily.index.max(), freq="D", name="date")
    series = daily.reindex(index)
    filled = int(series.isna().sum())
    series = series.interpolate(method="linear").rename("PaidAmount")
    return series, filled


def span(rows: pd.DataFrame) -> tuple[str, str]:
    """The first and the last day of `rows` (YYYY-MM-DD): the window of a series over the data's own span."""
    day = rows["TransactionDate"]
    return f"{day.min():%Y-%m-%d}", f"{day.max():%Y-%m-%d}"


def read_daily(path: str | Path) -> pd.Series:
    """A daily series file as acquisition writes it (`date,PaidAmount`, one row a day), at daily frequency."""
    frame = pd.read_csv(path, index_col=0, parse_dates=[0])
    return frame.iloc[:, 0].asfreq("D")
