"""Microsoft's TransactionHistory table, read and checked, and the daily series we forecast.

The file: tab-separated, no header, nine columns, plain or gzip-compressed. Every rule the data must
keep is one function here, so that the tests can check them one by one on any file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["TransactionID", "ProductID", "ReferenceOrderID", "ReferenceOrderLineID", "TransactionDate",
           "TransactionType", "Quantity", "ActualCost", "ModifiedDate"]
WINDOW = ("2013-07-31", "2014-05-31")
DEFAULT_FILE = Path("starter/data/TransactionHistory.csv")  # what starter/acquire.py writes


def data_file() -> Path:
    """The data file: $WTH_DATA_FILE when set, else the one the starter project acquired."""
    return Path(os.environ.get("WTH_DATA_FILE") or DEFAULT_FILE)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_rows(path: Path) -> pd.DataFrame:
    """Every field as text, exactly as written; a row with too few fields has NaN in its last ones."""
    try:
        return pd.read_csv(path, sep="\t", header=None, names=COLUMNS, dtype=str, keep_default_na=False,
                           na_values=[""], compression="infer")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=COLUMNS, dtype=str)


def _rows(raw: pd.DataFrame) -> str | None:
    return "the file holds no rows" if raw.empty else None


def _fields(raw: pd.DataFrame) -> str | None:
    short = raw.isna().any(axis=1)
    return f"{int(short.sum())} row(s) lack some of the {len(COLUMNS)} fields" if short.any() else None


def _dates(raw: pd.DataFrame) -> str | None:
    for column in ("TransactionDate", "ModifiedDate"):
        dates = pd.to_datetime(raw[column], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        if dates.isna().any():
            return f"{column} {raw[column][dates.isna()].iloc[0]!r} is not a date"
    return None


def _quantities(raw: pd.DataFrame) -> str | None:
    whole = raw["Quantity"].fillna("").str.fullmatch(r"\d+")
    return None if whole.all() else f"Quantity {raw['Quantity'][~whole].iloc[0]!r} is not a non-negative integer"


def _costs(raw: pd.DataFrame) -> str | None:
    cost = pd.to_numeric(raw["ActualCost"], errors="coerce")
    return f"ActualCost {raw['ActualCost'][cost.isna()].iloc[0]!r} is not a number" if cost.isna().any() else None


def _ids(raw: pd.DataFrame) -> str | None:
    again = raw["TransactionID"].duplicated()
    return f"TransactionID {raw['TransactionID'][again].iloc[0]} appears more than once" if again.any() else None


RULES = {"rows": _rows, "fields": _fields, "dates": _dates, "quantities": _quantities, "costs": _costs, "ids": _ids}


def problems(raw: pd.DataFrame) -> list[str]:
    """What is wrong with the rows, one line per broken rule; [] when they are fine."""
    return [wrong for rule in RULES.values() if (wrong := rule(raw))]


def typed(raw: pd.DataFrame, source: Path | str = "the data") -> pd.DataFrame:
    """The rows with their types; ValueError naming what is wrong with them."""
    wrong = problems(raw)
    if wrong:
        raise ValueError(f"{source}: " + "; ".join(wrong))
    return raw.assign(TransactionDate=pd.to_datetime(raw["TransactionDate"]), Quantity=raw["Quantity"].astype(int),
                      ActualCost=raw["ActualCost"].astype(float))


def read_transactions(path: Path) -> pd.DataFrame:
    return typed(raw_rows(path), path)


def daily_series(rows: pd.DataFrame, start: str = WINDOW[0], end: str = WINDOW[1]) -> pd.Series:
    """Daily mean of PaidAmount = Quantity * ActualCost over [start, end], missing days interpolated."""
    paid = rows["Quantity"] * rows["ActualCost"]
    daily = paid.groupby(rows["TransactionDate"].dt.normalize()).mean().loc[start:end]
    daily = daily.asfreq("D").interpolate()
    daily.index.name = "date"
    return daily.rename("PaidAmount")
