"""Acquisition (the build pipeline's first step): a source read and validated with `wth.data`, its
daily series recorded in the workspace (`<workspace>/data/`) with the source's fingerprint.

Sources: `bundled` (the simulated data in resources/data), `microsoft` (the install-script zip,
downloaded), or a path to that zip or a TransactionHistory CSV. Bad input writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import requests

from wth.config import WINDOW_END, WINDOW_START
from wth.data import bundled_file, daily_series, read_daily, read_transactions, sha256_of
from wth.errors import StepFailed, UsageError

MICROSOFT_URL = (
    "https://github.com/Microsoft/sql-server-samples/releases/download/"
    "adventureworks/AdventureWorks-oltp-install-script.zip"
)


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
        return bundled_file()
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
        acquired_at=datetime.now(UTC).isoformat(timespec="seconds"),
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `acquire` and `pipeline build`: the source and the window."""
    parser.add_argument("--source", default="bundled",
                        help="bundled (simulated, offline), microsoft (download the real zip) or a PATH to a zip/CSV")
    parser.add_argument("--start", default=WINDOW_START, metavar="DATE", help=f"first day (default {WINDOW_START})")
    parser.add_argument("--end", default=WINDOW_END, metavar="DATE", help=f"last day (default {WINDOW_END})")
