"""The data files a team's tests are run against (C2.2, C2.3), through `WTH_DATA_FILE`.

`clean`: a valid TransactionHistory file no team has seen, new in every grading pass: the simulator's
window run with a seed drawn for the pass, or, when the coach names a `data_file`, that file's rows
with their TransactionIDs moved by a random offset and one row in a hundred left out at random.
`corrupted`: one file per kind of mistake a data-validation test exists to catch (the rules
Challenge 02 names), each the clean rows with exactly that one mistake: a test that catches only one
kind cannot pass them all. A team whose tests pass on `clean` and still pass on a corrupted file does
not check that rule. Written once per grading pass into a private temporary folder, each file
in a folder named at random.
"""

from __future__ import annotations

import gzip
import random
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Lines = list[str]  # the file's lines, without their line ends; only the lines a mistake touches are split


def _set(lines: Lines, i: int, column: int, value: Callable[[str], str]) -> None:
    fields = lines[i].split("\t")
    fields[column] = value(fields[column])
    lines[i] = "\t".join(fields)


def _columns(lines: Lines, i: int) -> None:
    lines[i] = "\t".join(lines[i].split("\t")[:8])


def _date(lines: Lines, i: int) -> None:
    _set(lines, i, 4, lambda _: "2014-02-30 00:00:00")


def _negative(lines: Lines, i: int) -> None:
    _set(lines, i, 6, lambda q: "-" + (q.lstrip("-").lstrip("0") or "1"))


def _fraction(lines: Lines, i: int) -> None:
    _set(lines, i, 6, lambda _: "2.5")


def _duplicate(lines: Lines, i: int) -> None:
    _set(lines, i, 0, lambda _: lines[i - 1].split("\t")[0])


def _cost(lines: Lines, i: int) -> None:
    _set(lines, i, 7, lambda _: "n/a")


def _empty(lines: Lines, i: int) -> None:
    lines.clear()


# kind -> (what is wrong, how to break the rows at a line); the order is the order of the report's lists
CORRUPTIONS: dict[str, tuple[str, Callable[[Lines, int], None]]] = {
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
    """A valid file nobody has seen: a fresh simulation, or a fresh variant of the coach's `source`."""
    draw = secrets.SystemRandom()
    if source:
        raw = Path(source).read_bytes()
        return variant((gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8-sig"), draw)
    from wth import config, simulate

    rows, _ = simulate.simulate(config.WINDOW_START, config.WINDOW_END, draw.randrange(1 << 32))
    return simulate.to_text(rows)


def variant(text: str, draw: random.Random) -> str:
    """`text`'s rows with every TransactionID moved by one random offset and `len // 100` rows left out."""
    lines = text.splitlines()
    for i in sorted(draw.sample(range(len(lines)), len(lines) // 100), reverse=True):
        del lines[i]
    offset = draw.randrange(1, 10**6)
    for i, line in enumerate(lines):
        first, tab, rest = line.partition("\t")
        if first.strip().isdigit():
            lines[i] = f"{int(first) + offset}{tab}{rest}"
    return "".join(line + "\n" for line in lines)


def corrupt(text: str, kind: str, draw: random.Random | None = None) -> str:
    """`text` (TransactionHistory, tab-separated) with the one mistake `kind`, on a line drawn at random."""
    lines = text.splitlines()
    CORRUPTIONS[kind][1](lines, (draw or secrets.SystemRandom()).randrange(1, max(2, len(lines))))
    return "".join(line + "\n" for line in lines)


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
                clean, bad = self._write(text), {kind: self._write(corrupt(text, kind)) for kind in CORRUPTIONS}
                self._data = DataSet(clean, bad)
            return self._data

    def _write(self, text: str) -> str:
        """`text` as TransactionHistory.csv in a folder of its own, named at random: a file's path (which a
        team's tests see) never says which kind of data it holds."""
        path = self._folder / secrets.token_hex(8) / "TransactionHistory.csv"
        path.parent.mkdir()
        path.write_text(text)
        return str(path)

    def close(self) -> None:
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
