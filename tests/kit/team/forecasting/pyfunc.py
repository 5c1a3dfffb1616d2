"""The registered model: the forecast of the days after the training end, stored as data.

A forecast from a fixed origin is a fixed path, so the model holds the path (`forecast.json`) and
`predict({"steps": N})` returns its first N values. The training end travels in the model's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

MAX_STEPS = 365  # the endpoint contract's limit (Challenge 03)


class ForecastPath(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.path = json.loads(Path(context.artifacts["forecast"]).read_text())["forecast"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> list[float]:
        return self.path[: int(model_input["steps"].iloc[0])]


def log(path: pd.Series, folder: Path):
    """Log the model of a forecast path (indexed by date) in the active run."""
    file = folder / "forecast.json"
    file.write_text(json.dumps({"start": f"{path.index[0]:%Y-%m-%d}", "forecast": [round(float(v), 4) for v in path]}))
    train_end = path.index[0] - pd.Timedelta(days=1)
    return mlflow.pyfunc.log_model(name="model", python_model=ForecastPath(), artifacts={"forecast": str(file)},
                                   code_paths=[str(Path(__file__).parent)], metadata={"train_end": f"{train_end:%Y-%m-%d}"},
                                   pip_requirements=["mlflow", "pandas"])
