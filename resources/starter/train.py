"""Train the ARIMA(2,0,2) model on the daily series and save it to outputs/model.pkl.

    python train.py                          # train on the whole window
    python train.py --train-end 2013-12-31   # train on the 2013 part only
"""

import argparse
import warnings

from statsmodels.tsa.arima.model import ARIMA
from transactions import OUTPUTS, WINDOW, daily_series, load_transactions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-end", default=WINDOW[1], help="last training day (YYYY-MM-DD)")
    args = parser.parse_args()

    series = daily_series(load_transactions(), end=args.train_end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ARIMA(series, order=(2, 0, 2)).fit()
    mae = (series - result.fittedvalues).abs().mean()
    print(f"ARIMA(2,0,2) on {len(series)} days {series.index[0]:%Y-%m-%d}..{series.index[-1]:%Y-%m-%d}")
    print(f"AIC {result.aic:.1f}, in-sample MAE {mae:.1f}")

    OUTPUTS.mkdir(exist_ok=True)
    result.save(OUTPUTS / "model.pkl")
    print(f"wrote {OUTPUTS / 'model.pkl'}")


if __name__ == "__main__":
    main()
