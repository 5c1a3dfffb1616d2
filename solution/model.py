"""The registered model: an MLflow pyfunc around a `Forecast`.

The artifact is data, not a pickle: `forecast.json` holds the forecast path, the interval residuals
and the training window, so any environment with this package loads it, and the endpoint's entry
script (`solution/score.py`) needs nothing but `mlflow.pyfunc.load_model`.

Input: a DataFrame with a `steps` column (one row) and an optional `interval` column.
Output: a DataFrame with `date`, `forecast` and, with an interval, `lower` and `upper`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from .forecast import Forecast

ARTIFACT = "forecast.json"
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("long", "steps"), ColSpec("double", "interval", required=False)]))


def to_json(forecast: Forecast) -> dict:
    return {
        "model": forecast.model,
        "params": forecast.params,
        "train_start": f"{forecast.train_start:%Y-%m-%d}",
        "train_end": f"{forecast.train_end:%Y-%m-%d}",
        "path": [round(float(v), 6) for v in forecast.path],
        "residuals": [round(float(v), 6) for v in forecast.residuals],
    }


def from_json(data: dict) -> Forecast:
    return Forecast(
        model=data["model"],
        params=data["params"],
        train_start=pd.Timestamp(data["train_start"]),
        train_end=pd.Timestamp(data["train_end"]),
        path=np.asarray(data["path"], dtype=float),
        residuals=np.asarray(data["residuals"], dtype=float),
    )


class ForecastModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.forecast = from_json(json.loads(Path(context.artifacts["forecast"]).read_text()))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        row = model_input.iloc[0]
        interval = row.get("interval")
        interval = None if interval is None or pd.isna(interval) else float(interval)
        return self.forecast.predict(int(row["steps"]), interval).reset_index()


def log(forecast: Forecast, name: str = "model", metadata: dict | None = None):
    """Log `forecast` as a pyfunc model in the active run; returns MLflow's ModelInfo."""
    package = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as scratch:
        artifact = Path(scratch) / ARTIFACT
        artifact.write_text(json.dumps(to_json(forecast)))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(package / "model_code.py"),
            artifacts={"forecast": str(artifact)},
            code_paths=[str(package)],
            signature=SIGNATURE,
            input_example=pd.DataFrame({"steps": [7]}),
            metadata={
                "model": forecast.model,
                "train_start": f"{forecast.train_start:%Y-%m-%d}",
                "train_end": f"{forecast.train_end:%Y-%m-%d}",
                **(metadata or {}),
            },
            pip_requirements=["mlflow", "pandas", "numpy"],
        )
