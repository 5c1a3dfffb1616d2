"""The data files a team's tests are run against (C2.2, C2.3), through `WTH_DATA_FILE`.

`clean`: a valid TransactionHistory file (the coach's `data_file`, else the bundled data).
`corrupted`: one file per kind of mistake a data-validation test exists to catch (the rules
Challenge 02 names), each the clean rows with exactly that one mistake: a test that catches only one
kind cannot pass them all. A team whose tests pass on `clean` and still pass on a corrupted file does
not check that rule. Written once per grading session into a private temporary folder.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Rows = list[list[str]]


def _columns(rows: Rows) -> None:
    rows[len(rows) // 6] = rows[len(rows) // 6][:8]


def _date(rows: Rows) -> None:
    rows[len(rows) // 3][4] = "2014-02-30 00:00:00"


def _negative(rows: Rows) -> None:
    row = rows[len(rows) // 2]
    row[6] = "-" + row[6].lstrip("-")


def _fraction(rows: Rows) -> None:
    rows[3 * len(rows) // 5][6] = "2.5"


def _duplicate(rows: Rows) -> None:
    i = 2 * len(rows) // 3
    rows[i][0] = rows[i - 1][0]


def _cost(rows: Rows) -> None:
    rows[5 * len(rows) // 6][7] = "n/a"


def _empty(rows: Rows) -> None:
    rows.clear()


# kind -> (what is wrong, how to break the rows); the order is the order of the report's lists
CORRUPTIONS: dict[str, tuple[str, Callable[[Rows], None]]] = {
    "columns": ("a row with 8 instead of 9 columns", _columns),
    "date": ("a TransactionDate '2014-02-30 00:00:00' that is not a date", _date),
    "negative-quantity": ("a negative Quantity", _negative),
    "fractional-quantity": ("a Quantity '2.5' that is not an integer", _fraction),
    "cost": ("an ActualCost 'n/a' that is not a number", _cost),
    "duplicate-id": ("a duplicated TransactionID", _duplicate),
    "empty": ("an empty file", _empty),
}


@dataclass(frozen=True)
class DataSet:
    clean: str
    corrupted: dict[str, str]  # kind -> path


def _clean_text(source: str | None) -> str:
    if source:
        raw = Path(source).read_bytes()
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8-sig")
    from wth import simulate
    from wth.data import BUNDLED_FILE

    if BUNDLED_FILE.exists():
        return gzip.decompress(BUNDLED_FILE.read_bytes()).decode("utf-8")
    return simulate.to_text(simulate.window_rows())


def corrupt(text: str, kind: str) -> str:
    """`text` (TransactionHistory, tab-separated) with the one mistake `kind`."""
    rows = [line.split("\t") for line in text.splitlines()]
    CORRUPTIONS[kind][1](rows)
    return "".join("\t".join(f) + "\n" for f in rows)


class DataFiles:
    """Creates the files on first use; `close()` removes them."""

    def __init__(self, source: str | None):
        self.source, self._folder, self._data = source, None, None
        self._lock = threading.Lock()

    def get(self) -> DataSet:
        with self._lock:
            if self._data is None:
                text = _clean_text(self.source)
                self._folder = Path(tempfile.mkdtemp(prefix="wth-grader-data-"))
                clean = self._folder / "TransactionHistory.csv"
                clean.write_text(text)
                bad = {}
                for kind in CORRUPTIONS:
                    path = self._folder / kind / "TransactionHistory.csv"
                    path.parent.mkdir()
                    path.write_text(corrupt(text, kind))
                    bad[kind] = str(path)
                self._data = DataSet(str(clean), bad)
            return self._data

    def close(self) -> None:
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
