"""Forecast the next days with the saved model and plot them after the recent history.

    python plot.py             # 30 days; writes outputs/forecast.png
    python plot.py --days 60
"""

import argparse

import matplotlib.pyplot as plt
from statsmodels.tsa.arima.model import ARIMAResults
from transactions import OUTPUTS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days to forecast")
    args = parser.parse_args()

    result = ARIMAResults.load(OUTPUTS / "model.pkl")
    history = result.model.data.orig_endog
    forecast = result.get_forecast(args.days)
    band = forecast.conf_int(alpha=0.2)

    fig, ax = plt.subplots(figsize=(10, 4))
    history.iloc[-90:].plot(ax=ax, label="actual")
    forecast.predicted_mean.plot(ax=ax, label="ARIMA(2,0,2) forecast")
    ax.fill_between(band.index, band.iloc[:, 0], band.iloc[:, 1], alpha=0.2, label="80% interval")
    ax.set_title("Daily mean PaidAmount")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUTPUTS / "forecast.png")
    print(forecast.predicted_mean.round(1).to_string())
    print(f"wrote {OUTPUTS / 'forecast.png'}")


if __name__ == "__main__":
    main()
