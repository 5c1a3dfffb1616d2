"""The grader's own recomputation of a training run's seasonal naive backtest MASE (C1.2): the hack's
protocol (`wth.protocol`) on the hack's series (`wth.data`) over the run's training window, read from
the data its dataset input names.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

from wth.protocol import rolling_mase, seasonal_naive

from .not_gradable import NotGradable

RELATIVE_TOLERANCE = 0.01  # a logged figure within 1 % of the grader's: rounding, not another protocol


def snaive_mase(series: pd.Series) -> float:
    return rolling_mase(seasonal_naive, series)


def source_path(source: str) -> Path | None:
    """The local file an MLflow dataset source names (`{"uri": "file:///..."}` or a bare path), else None."""
    try:
        parsed = json.loads(source)
    except ValueError:
        parsed = source
    uri = next((parsed.get(k) for k in ("uri", "path", "url") if parsed.get(k)), None) if isinstance(parsed, dict) else parsed
    if not isinstance(uri, str):
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(uri) if not parts.scheme and uri.startswith("/") else None


def recorded_series(path: Path, start: str, end: str) -> pd.Series:
    """The hack's daily series over [start, end] from `path`: the acquired series (date,PaidAmount) or
    a TransactionHistory file. `NotGradable` when the file is not readable here."""
    from wth.data import daily_series, read_daily, read_transactions
    from wth.errors import UsageError

    try:
        if not path.is_file():
            raise NotGradable(f"the run's training data {path} is not readable from the grading machine")
        with open(path, "rb") as handle:
            head = handle.read(64)
        if head.lstrip(b"\xef\xbb\xbf").lower().startswith(b"date,"):
            series = read_daily(path)[pd.Timestamp(start): pd.Timestamp(end)]
        else:
            series, _ = daily_series(read_transactions(path), start, end)
    except (UsageError, ValueError, KeyError, IndexError, OSError) as err:
        raise NotGradable(f"the run's training data {path} cannot be read: {str(err).splitlines()[0][:200]}") from None
    return series
