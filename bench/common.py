"""What the forecasting benchmarks share: the real table's place, the machine record, pmdarima's `auto_arima`."""

from __future__ import annotations

import os
import platform
import warnings
from pathlib import Path

import numpy as np
import pmdarima

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "adventureworks" / "TransactionHistory.csv"


def this_machine() -> dict:
    """The machine a benchmark runs on, with the load average over 1, 5 and 15 minutes now."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def auto_arima_path(values: np.ndarray, steps: int) -> np.ndarray:
    """pmdarima's default seasonal `auto_arima` (m=7), fitted on `values`, forecasting `steps` days."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pmdarima.auto_arima(values, m=7, seasonal=True, suppress_warnings=True, error_action="ignore")
    return np.asarray(model.predict(steps))
