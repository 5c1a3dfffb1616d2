"""The two data files a team's tests are run against (C2.2, C2.3), through `WTH_DATA_FILE`.

`clean`: a valid TransactionHistory file (the coach's `data_file`, else the bundled data).
`corrupted`: the same rows with the mistakes a data-validation test exists to catch: a row with a
column missing, a date that is not a date, a negative quantity, a duplicated TransactionID, a cost
that is not a number. A team whose tests pass on `clean` and still pass on `corrupted` does not
validate its data. Written once per grading session into a private temporary folder.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

CORRUPTIONS = (
    "a row with 8 instead of 9 columns",
    "a TransactionDate '2014-02-30 00:00:00'",
    "a negative Quantity",
    "a duplicated TransactionID",
    "an ActualCost 'n/a'",
)


@dataclass(frozen=True)
class DataPair:
    clean: str
    corrupted: str


def _clean_text(source: str | None) -> str:
    if source:
        raw = Path(source).read_bytes()
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8-sig")
    from wth import simulate
    from wth.data import BUNDLED_FILE

    if BUNDLED_FILE.exists():
        return gzip.decompress(BUNDLED_FILE.read_bytes()).decode("utf-8")
    return simulate.to_text(simulate.window_rows())


def corrupt(text: str) -> str:
    lines = text.splitlines()
    n = len(lines)
    fields = [line.split("\t") for line in lines]
    picks = [n // 6, n // 3, n // 2, 2 * n // 3, 5 * n // 6]
    fields[picks[0]] = fields[picks[0]][:8]
    fields[picks[1]][4] = "2014-02-30 00:00:00"
    fields[picks[2]][6] = "-" + fields[picks[2]][6].lstrip("-")
    fields[picks[3]][0] = fields[picks[3] - 1][0]
    fields[picks[4]][7] = "n/a"
    return "".join("\t".join(f) + "\n" for f in fields)


class DataFiles:
    """Creates the pair on first use; `close()` removes them."""

    def __init__(self, source: str | None):
        self.source, self._folder, self._data = source, None, None
        self._lock = threading.Lock()

    def get(self) -> DataPair:
        with self._lock:
            if self._data is None:
                text = _clean_text(self.source)
                self._folder = Path(tempfile.mkdtemp(prefix="wth-grader-data-"))
                clean, bad = self._folder / "TransactionHistory.csv", self._folder / "corrupted" / "TransactionHistory.csv"
                bad.parent.mkdir()
                clean.write_text(text)
                bad.write_text(corrupt(text))
                self._data = DataPair(str(clean), str(bad))
            return self._data

    def close(self) -> None:
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
