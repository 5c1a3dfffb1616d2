"""A deterministic simulator of AdventureWorks `Production.TransactionHistory`: the bundled offline data.

It writes rows in Microsoft's TransactionHistory layout, so the bundled data and the real table go
through the same parser (`wth.data.read_transactions`). The process mimics how the real table is
made, day by day, calibrated on the real 2013-07-31..2014-05-31 window (resources/data/README.md
gives the targets and the measured values):

- W rows (work orders, ActualCost 0): ~90-110 a day, a double batch on one of the first days of a month.
- S rows (sales order lines): ~125-190 internet-order lines a day (1 item each: mostly accessories, some
  bikes), plus one reseller day around each month end with ~1,500-4,000 bulk lines at reseller prices.
- P rows (purchase order lines): on a "purchasing day" ~31 component lines, many of them 550-piece
  lines, which carry most of the money. Each weekday has a purchasing slot that is scheduled or not;
  the schedule is sticky from week to week (one two-state Markov chain per weekday, mostly on Monday
  to Friday and off at weekends), and a scheduled slot is a purchasing day with probability 0.95.

The hack's series (daily mean of Quantity*ActualCost over all rows) is therefore high on purchasing
days and low on other days: the weekly profile, the weekend lows and the day-to-day noise all come out
of the process rather than being drawn as a series. After the window the same process continues
(the clean batch, the coach's holdout) or switches to the regime the real table shows in June 2014
(the drifted batch): work orders stop being recorded, only small accessory sales remain, and
purchasing continues on weekdays only, so weekday means rise about 3x and weekends fall to almost 0.

Determinism: numpy `Generator`s with explicit seeds, money as integer ten-thousandths formatted by
integer arithmetic, gzip written with mtime 0 and no file name: the same library versions write the
same bytes.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .config import HOLDOUT_DAYS, HOLDOUT_START, WINDOW_END, WINDOW_START, bundled_data
from .data import COLUMNS, daily_series, parse_day
from .errors import UsageError
from .workspace_contract import BATCH_FILES, NEW_DATA_FILE, WINDOW_FILE

WINDOW_SEED = 171  # the window: the seed closest to the calibration targets (README)
CLEAN_SEED = 0  # the clean continuation: the first seed whose batch passes the README criterion
DRIFT_SEED = 2  # the drifted continuation (every seed drifts: README)
CATALOG_SEED = 707  # the product catalogue: the same for every run
CALENDAR_SEED = 1998  # reseller and work-order batch days: the same for every run
FIRST_TRANSACTION_ID = 100000
NEW_DATA_START = "2014-01-01"
BATCH_START = HOLDOUT_START
BATCH_DAYS = HOLDOUT_DAYS

FILES = {
    WINDOW_FILE: "the hack window 2013-07-31..2014-05-31",
    NEW_DATA_FILE: f"the 2014-01-01..2014-05-31 rows of {WINDOW_FILE}",
    BATCH_FILES["clean"]: "2014-06-01..2014-06-28, the same process continued",
    BATCH_FILES["drifted"]: "2014-06-01..2014-06-28, the June-2014 regime change",
}


@dataclass(frozen=True)
class Regime:
    """What the business does on a day; `NORMAL` is the window, `DRIFTED` the June-2014 change."""

    schedule: tuple[float, ...]  # long-run share of weeks in which a weekday's purchasing slot is on, Mon..Sun
    persistence: tuple[float, ...]  # week-to-week autocorrelation of a slot's on/off state, Mon..Sun
    sales_scale: float  # multiplies the internet-order line rate
    bike_share: float  # share of internet lines that are bikes
    work_orders: bool
    reseller_days: bool


NORMAL = Regime((0.89, 0.82, 0.91, 0.91, 0.83, 0.14, 0.28), (0.88, 0.88, 0.88, 0.88, 0.88, 0.0, 0.0), 1.0, 0.19, True, True)
DRIFTED = Regime((0.95, 0.95, 0.95, 0.95, 0.95, 0.0, 0.0), (0.0,) * 7, 0.28, 0.0, False, False)

SLOT_USED = 0.95  # a scheduled purchasing slot is a purchasing day with this probability
SALES_RATE = (120.0, 0.2)  # internet-order lines a day: at the window start, growth a day
WORK_RATE = (88.0, 0.065)  # work-order rows a day: at the window start, growth a day
PURCHASE_LINES = (31.0, 10.7)  # lines on a purchasing day: negative binomial mean, shape
ACCESSORY_CENTS = (229, 499, 799, 899, 999, 2199, 2499, 2899, 3499, 4999, 5399, 6350, 6999)  # list prices


@dataclass(frozen=True)
class State:
    """Where the process stands at the end of a run: the next ids and the purchasing schedule."""

    transaction: int = FIRST_TRANSACTION_ID
    sales_order: int = 53450
    work_order: int = 41590
    purchase_order: int = 417
    schedule: tuple[bool, ...] | None = None  # per weekday; None: drawn from the regime at the start


@dataclass(frozen=True)
class Catalog:
    sales_ids: np.ndarray
    sales_cents: np.ndarray  # list prices in cents
    bike: np.ndarray  # bool per sales product
    sales_weight: np.ndarray  # popularity among internet orders
    parts_ids: np.ndarray
    parts_cost: np.ndarray  # standard cost in ten-thousandths
    parts_quantity: np.ndarray  # the order quantity of each component
    parts_weight: np.ndarray
    made_ids: np.ndarray  # manufactured products (work orders)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    rng = np.random.default_rng(CATALOG_SEED)
    sales_ids = np.sort(rng.choice(np.arange(707, 1000), size=200, replace=False))
    bike = rng.random(200) < 0.3
    accessory_cents = rng.choice(ACCESSORY_CENTS, size=200)
    bike_cents = rng.uniform(53999, 244335, 200).astype(np.int64)
    sales_cents = np.where(bike, bike_cents, accessory_cents)
    popularity = rng.pareto(1.2, 200) + 0.05
    popularity[bike] *= np.where(bike_cents[bike] > 150000, 1.6, 1.0)  # road bikes sell best
    parts_ids = np.sort(rng.choice(np.arange(1, 942), size=210, replace=False))
    quantity = rng.choice([3, 60, 550, 1250], size=210, p=[0.47, 0.09, 0.43, 0.01])
    cost = np.select(
        [quantity == 3, quantity == 60, quantity == 550],
        [np.clip(rng.normal(42.0, 7.0, 210), 12.4, 57.0),
         rng.uniform(3.4, 63.7, 210),
         np.clip(rng.gamma(2.0, 15.5, 210), 1.2, 82.8)],
        default=0.21,
    )
    made_ids = np.sort(rng.choice(np.arange(3, 1000), size=190, replace=False))
    return Catalog(
        sales_ids=sales_ids, sales_cents=sales_cents, bike=bike, sales_weight=popularity,
        parts_ids=parts_ids, parts_cost=np.round(cost * 10000).astype(np.int64), parts_quantity=quantity,
        parts_weight=rng.uniform(0.5, 1.5, 210), made_ids=made_ids,
    )


@lru_cache(maxsize=64)
def _month_days(year: int, month: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(reseller day, work-order batch day) of a month: fixed by the calendar, not by a run's seed.

    The reseller day falls within two days before to one day after the month's last day, as in the
    real table (e.g. 2013-08-30, 2014-03-01); the window's first day is July 2013's reseller day.
    """
    rng = np.random.default_rng([CALENDAR_SEED, year, month])
    last = pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)
    offset = 0 if (year, month) == (2013, 7) else int(rng.choice([-2, -1, 0, 1], p=[0.1, 0.25, 0.45, 0.2]))
    batch = pd.Timestamp(year=year, month=month, day=int(rng.integers(1, 5)))
    return last + pd.Timedelta(days=offset), batch


def _is_reseller_day(day: pd.Timestamp) -> bool:
    previous = day - pd.offsets.MonthBegin(1) if day.day == 1 else day
    return day in (_month_days(day.year, day.month)[0], _month_days(previous.year, previous.month)[0])


def _orders(rng: np.random.Generator, lines: int, mean_lines: float, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `lines` rows into orders of ~mean_lines lines: (order id, line number) per row."""
    sizes = rng.geometric(1.0 / mean_lines, size=lines)  # at most `lines` orders are needed
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), lines)) + 1]
    sizes[-1] -= sizes.sum() - lines
    order = np.repeat(np.arange(first, first + len(sizes)), sizes)
    line = np.arange(lines) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    return order, line


def _day(rng: np.random.Generator, day: pd.Timestamp, age: int, regime: Regime, state: State) -> tuple[dict, State]:
    """One day's rows as column arrays (P rows, then W, then S, as in the real table)."""
    cat = catalog()
    weekday = day.day_of_week
    share = regime.schedule[weekday]
    # a two-state Markov chain with stationary share `share` and lag-one autocorrelation `persistence`
    on = share + regime.persistence[weekday] * ((1.0 if state.schedule[weekday] else 0.0) - share)
    schedule = list(state.schedule)
    schedule[weekday] = bool(rng.random() < on)
    state = replace(state, schedule=tuple(schedule))
    parts: list[dict] = []

    if schedule[weekday] and rng.random() < SLOT_USED:
        mean, shape = PURCHASE_LINES
        n = max(1, int(rng.negative_binomial(shape, shape / (shape + mean))))
        pick = rng.choice(len(cat.parts_ids), size=n, p=cat.parts_weight / cat.parts_weight.sum())
        order, line = _orders(rng, n, 2.2, state.purchase_order)
        parts.append(dict(type="P", product=cat.parts_ids[pick], order=order, line=line,
                          quantity=cat.parts_quantity[pick], cost=cat.parts_cost[pick]))
        state = replace(state, purchase_order=int(order[-1]) + 1)

    if regime.work_orders:
        rate = WORK_RATE[0] + WORK_RATE[1] * age
        if day == _month_days(day.year, day.month)[1]:
            rate *= 2.2
        n = int(rng.poisson(rate))
        quantity = np.minimum(np.ceil(rng.lognormal(1.3, 1.6, n)), 40000).astype(np.int64)
        parts.append(dict(type="W", product=rng.choice(cat.made_ids, size=n),
                          order=np.arange(state.work_order, state.work_order + n), line=np.zeros(n, np.int64),
                          quantity=quantity, cost=np.zeros(n, np.int64)))
        state = replace(state, work_order=state.work_order + n)

    n = int(rng.poisson((SALES_RATE[0] + SALES_RATE[1] * age) * regime.sales_scale))
    bike = rng.random(n) < regime.bike_share
    weight = np.where(cat.bike, cat.sales_weight, 0.0), np.where(cat.bike, 0.0, cat.sales_weight)
    pick = np.where(bike, rng.choice(len(cat.sales_ids), size=n, p=weight[0] / weight[0].sum()),
                    rng.choice(len(cat.sales_ids), size=n, p=weight[1] / weight[1].sum()))
    order, line = _orders(rng, n, 2.3, state.sales_order) if n else (np.zeros(0, np.int64),) * 2
    parts.append(dict(type="S", product=cat.sales_ids[pick], order=order, line=line,
                      quantity=np.ones(n, np.int64), cost=cat.sales_cents[pick] * 100))
    state = replace(state, sales_order=int(order[-1]) + 1 if n else state.sales_order)

    if regime.reseller_days and _is_reseller_day(day):
        n = int(np.clip(rng.normal(2700, 700), 1400, 4000))
        bike = rng.random(n) < 0.44
        pick = np.where(bike, rng.choice(np.flatnonzero(cat.bike), size=n),
                        rng.choice(np.flatnonzero(~cat.bike), size=n))
        discount = rng.choice([100, 98, 95, 90], size=n, p=[0.7, 0.15, 0.1, 0.05])  # percent of the 60% price
        order, line = _orders(rng, n, 24.0, state.sales_order)
        parts.append(dict(type="S", product=cat.sales_ids[pick], order=order, line=line,
                          quantity=np.minimum(rng.geometric(0.3, size=n), 41),
                          cost=cat.sales_cents[pick] * 60 * discount // 100))
        state = replace(state, sales_order=int(order[-1]) + 1)

    rows = {key: np.concatenate([p[key] for p in parts]) for key in ("product", "order", "line", "quantity", "cost")}
    rows["type"] = np.concatenate([np.full(len(p["order"]), p["type"]) for p in parts])
    count = len(rows["type"])
    rows["id"] = np.arange(state.transaction, state.transaction + count)
    rows["day"] = np.full(count, day.to_datetime64())
    return rows, replace(state, transaction=state.transaction + count)


def simulate(start: str, end: str, seed: int, state: State = State(), regime: Regime = NORMAL) -> tuple[pd.DataFrame, State]:
    """The rows of [start, end] (inclusive) as `read_transactions` would return them, and the end state.

    ActualCost has at most 4 decimals; `to_text` writes the table. Day ages (the growth trend) count
    from the window's first day, so any range continues the same trend.
    """
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if first > last:
        raise UsageError(f"empty range: {start} is after {end}")
    rng = np.random.default_rng(seed)
    if state.schedule is None:
        state = replace(state, schedule=tuple(bool(x) for x in rng.random(7) < np.array(regime.schedule)))
    origin = parse_day(WINDOW_START, "window start")
    days = []
    for day in pd.date_range(first, last, freq="D"):
        rows, state = _day(rng, day, (day - origin).days, regime, state)
        days.append(rows)
    cols = {key: np.concatenate([d[key] for d in days]) for key in days[0]}
    frame = pd.DataFrame({
        "TransactionID": cols["id"], "ProductID": cols["product"].astype(np.int64),
        "ReferenceOrderID": cols["order"].astype(np.int64), "ReferenceOrderLineID": cols["line"].astype(np.int64),
        "TransactionDate": pd.to_datetime(cols["day"]), "TransactionType": cols["type"],
        "Quantity": cols["quantity"].astype(np.int64), "ActualCost": cols["cost"] / 10000.0,
        "ModifiedDate": pd.to_datetime(cols["day"]),
    })[COLUMNS]
    return frame, state


def to_text(rows: pd.DataFrame) -> str:
    """The rows in Microsoft's TransactionHistory layout: tab-separated, no header, `\\n` line ends."""
    # money is exact in ten-thousandths (x/10000 rounds back exactly), written by integer arithmetic
    cost = np.round(rows["ActualCost"].to_numpy() * 10000).astype(np.int64).tolist()

    def days(column: str) -> list[str]:  # a few hundred distinct days: each formatted once
        codes, distinct = pd.factorize(rows[column])
        return np.array([f"{day:%Y-%m-%d} 00:00:00" for day in distinct], dtype=object)[codes].tolist()

    columns = [rows[name].tolist() for name in ("TransactionID", "ProductID", "ReferenceOrderID", "ReferenceOrderLineID")]
    kinds, quantities = rows["TransactionType"].astype(str).tolist(), rows["Quantity"].tolist()
    return "".join(f"{a}\t{b}\t{c}\t{d}\t{day}\t{kind}\t{q}\t{money // 10000}.{money % 10000:04d}\t{modified}\n"
                   for a, b, c, d, day, kind, q, money, modified in zip(*columns, days("TransactionDate"), kinds,
                                                                        quantities, cost, days("ModifiedDate")))


def write_gzip(rows: pd.DataFrame, path: Path) -> Path:
    """Write the rows gzip-compressed with a fixed header (no name, mtime 0): reproducible bytes."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
            out.write(to_text(rows).encode("ascii"))
        tmp.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    return path


@lru_cache(maxsize=1)
def _window() -> tuple[pd.DataFrame, State]:
    return simulate(WINDOW_START, WINDOW_END, WINDOW_SEED)


def window_rows() -> pd.DataFrame:
    """The bundled window 2013-07-31..2014-05-31."""
    return _window()[0].copy()


def _continuation(seed: int, start: str, days: int, regime: Regime) -> pd.DataFrame:
    """The process after the window with its own seed, from BATCH_START; the rows from `start` on."""
    first = parse_day(start, "start")
    if first < parse_day(BATCH_START, "batch start") or not 1 <= days <= 366:
        raise UsageError(f"a continuation starts on or after {BATCH_START} and lasts 1..366 days")
    end = first + pd.Timedelta(days=days - 1)
    rows, _ = simulate(BATCH_START, f"{end:%Y-%m-%d}", seed, _window()[1], regime)
    return rows[rows["TransactionDate"] >= first].reset_index(drop=True)


def batch_rows(drifted: bool = False) -> pd.DataFrame:
    """The bundled batch after the window: the clean continuation or the drifted one."""
    return _continuation(DRIFT_SEED if drifted else CLEAN_SEED, BATCH_START, BATCH_DAYS, DRIFTED if drifted else NORMAL)


def holdout_rows(seed: int, start: str = BATCH_START, days: int = BATCH_DAYS) -> pd.DataFrame:
    """The clean continuation with a coach-held seed: the grader's hidden holdout."""
    if int(seed) < 0:
        raise UsageError(f"a holdout seed is a non-negative integer, got {seed}")
    return _continuation(int(seed), start, days, NORMAL)


def holdout_series(seed: int, start: str = BATCH_START, days: int = BATCH_DAYS) -> pd.Series:
    """The hack's daily series of `holdout_rows`."""
    end = parse_day(start, "start") + pd.Timedelta(days=days - 1)
    return daily_series(holdout_rows(seed, start, days), start, f"{end:%Y-%m-%d}")[0]


def write_bundle(out: str | Path | None = None, progress: Callable[[str], None] = print) -> list[Path]:
    """Write the bundled data set (FILES) into `out` (default resources/data)."""
    folder = Path(out) if out else bundled_data()
    window = window_rows()
    new_data = window[window["TransactionDate"] >= parse_day(NEW_DATA_START, "new data start")]
    written = []
    for name, rows in ((WINDOW_FILE, window), (NEW_DATA_FILE, new_data), (BATCH_FILES["clean"], batch_rows()),
                       (BATCH_FILES["drifted"], batch_rows(drifted=True))):
        path = write_gzip(rows, folder / name)
        progress(f"wrote {path}: {FILES[name]} ({len(rows):,} rows)")
        written.append(path)
    return written
