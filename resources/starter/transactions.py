"""Load the AdventureWorks transactions and build the daily series we forecast.

The file is Microsoft's TransactionHistory table as exported by the AdventureWorks install
script: tab-separated, no header row, nine columns.
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA_FILE = HERE / "data" / "TransactionHistory.csv"
OUTPUTS = HERE / "outputs"

COLUMNS = [
    "TransactionID", "ProductID", "ReferenceOrderID", "ReferenceOrderLineID",
    "TransactionDate", "TransactionType", "Quantity", "ActualCost", "ModifiedDate",
]
WINDOW = ("2013-07-31", "2014-05-31")


def load_transactions(path=DATA_FILE):
    return pd.read_csv(path, sep="\t", header=None, names=COLUMNS,
                       parse_dates=["TransactionDate", "ModifiedDate"])


def daily_series(rows, start=WINDOW[0], end=WINDOW[1]):
    """Daily mean of PaidAmount = Quantity * ActualCost, missing days interpolated."""
    paid = rows["Quantity"] * rows["ActualCost"]
    daily = paid.groupby(rows["TransactionDate"].dt.normalize()).mean()
    daily = daily.loc[start:end].asfreq("D").interpolate()
    daily.index.name = "date"
    return daily.rename("PaidAmount")
