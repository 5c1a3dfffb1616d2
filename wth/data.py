"""AdventureWorks transactions: read Microsoft's TransactionHistory layout, validate it, build the
hack's daily series, and record what was acquired in the workspace.

One code path for every source: Microsoft's install-script zip, a TransactionHistory(Archive).csv,
and the bundled simulated data (same layout, gzip-compressed) all go through `read_transactions`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import requests

from .config import BUNDLED_DATA, WINDOW_END, WINDOW_START
from .errors import StepFailed, UsageError

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
MICROSOFT_URL = (
    "https://github.com/Microsoft/sql-server-samples/releases/download/"
    "adventureworks/AdventureWorks-oltp-install-script.zip"
)
BUNDLED_FILE = BUNDLED_DATA / "TransactionHistory.csv.gz"


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


@dataclass
class Acquired:
    """What `acquire` recorded: the source, its fingerprint, and the series it gave."""

    source: str
    sha256: str
    rows: int
    rows_in_window: int
    start: str
    end: str
    days: int
    interpolated_days: int
    acquired_at: str
    series_file: str

    def series(self) -> pd.Series:
        return read_daily(self.series_file)


def data_dir(workspace: Path) -> Path:
    return Path(workspace) / "data"


def _download_microsoft(into: Path) -> Path:
    target = into / "AdventureWorks-oltp-install-script.zip"
    try:
        with requests.get(MICROSOFT_URL, stream=True, timeout=(10, 60)) as response:
            response.raise_for_status()
            with open(target, "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
    except requests.RequestException as err:
        raise StepFailed(
            f"cannot download Microsoft's AdventureWorks zip (no network? {type(err).__name__}); "
            "use --source bundled, or download it elsewhere and pass --source PATH"
        ) from None
    return target


def resolve_source(source: str, scratch: Path) -> Path:
    if source == "bundled":
        return BUNDLED_FILE
    if source == "microsoft":
        return _download_microsoft(scratch)
    return Path(source)


@dataclass
class Loaded:
    """A validated source and its series, not yet recorded anywhere."""

    source: str
    sha256: str
    rows: int
    rows_in_window: int
    series: pd.Series
    interpolated_days: int


def load(source: str = "bundled", start: str = WINDOW_START, end: str = WINDOW_END) -> Loaded:
    """Read and validate `source` and build its daily series; writes nothing (`UsageError` on bad input)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = resolve_source(source, Path(scratch))
        rows = read_transactions(path)
        series, filled = daily_series(rows, start, end)
        day = rows["TransactionDate"].dt.normalize()
        return Loaded(
            source=source if source in ("bundled", "microsoft") else str(path),
            sha256=sha256_of(path),
            rows=len(rows),
            rows_in_window=int(((day >= series.index[0]) & (day <= series.index[-1])).sum()),
            series=series,
            interpolated_days=filled,
        )


def record(workspace: Path, loaded: Loaded) -> Acquired:
    """Record a loaded source in the workspace: written aside first, then moved into place."""
    series = loaded.series
    target_root = data_dir(workspace)
    target_root.mkdir(parents=True, exist_ok=True)
    final = target_root / f"{loaded.sha256[:12]}-{series.index[0]:%Y%m%d}-{series.index[-1]:%Y%m%d}"
    folder = Path(tempfile.mkdtemp(dir=target_root, prefix=".acquire-"))
    series.to_csv(folder / "series.csv", index_label="date")
    acquired = Acquired(
        source=loaded.source, sha256=loaded.sha256, rows=loaded.rows, rows_in_window=loaded.rows_in_window,
        start=f"{series.index[0]:%Y-%m-%d}", end=f"{series.index[-1]:%Y-%m-%d}",
        days=len(series), interpolated_days=loaded.interpolated_days,
        acquired_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        series_file=str(final / "series.csv"),
    )
    text = json.dumps(asdict(acquired), indent=2)
    (folder / "acquired.json").write_text(text)
    if final.exists():
        shutil.rmtree(final)
    os.replace(folder, final)
    latest = target_root / "latest.json"
    tmp = latest.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, latest)
    return acquired


def acquire(workspace: Path, source: str = "bundled", start: str = WINDOW_START, end: str = WINDOW_END) -> Acquired:
    """Load and validate `source`, then record it in the workspace; bad input writes nothing."""
    return record(workspace, load(source, start, end))


def latest_acquired(workspace: Path) -> Acquired:
    latest = data_dir(workspace) / "latest.json"
    if not latest.exists():
        raise UsageError(f"no data acquired in {workspace}: run `wth-solution acquire` first")
    return Acquired(**json.loads(latest.read_text()))
