"""Look at the daily series: size, weekday pattern, monthly level, autocorrelation.

    python explore.py      # prints a summary and writes outputs/explore.png
"""

import matplotlib.pyplot as plt
from transactions import OUTPUTS, daily_series, load_transactions


def main():
    rows = load_transactions()
    series = daily_series(rows)
    print(f"{len(rows):,} transactions, {len(series)} days {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d}")
    print("\nmean PaidAmount by weekday:")
    weekday = series.groupby(series.index.day_of_week).mean().round(1)
    weekday.index = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    print(weekday.to_string())
    print("\nmean PaidAmount by month:")
    print(series.resample("MS").mean().round(1).to_string())
    print(f"\nautocorrelation: lag 1 {series.autocorr(1):.2f}, lag 7 {series.autocorr(7):.2f}")

    OUTPUTS.mkdir(exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7))
    series.plot(ax=top, title="Daily mean PaidAmount")
    bottom.boxplot([series[series.index.day_of_week == d] for d in range(7)],
                   tick_labels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    bottom.set_title("PaidAmount by weekday")
    fig.tight_layout()
    fig.savefig(OUTPUTS / "explore.png")
    print(f"wrote {OUTPUTS / 'explore.png'}")


if __name__ == "__main__":
    main()
