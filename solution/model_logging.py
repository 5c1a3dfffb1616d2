"""The registered model: logging a `Forecast` as an MLflow pyfunc.

The model's code is one file, `solution/model_code.py` (the `Forecast`, its artifact format and the
pyfunc), which imports only mlflow, numpy and pandas: those, pinned to the versions trained with,
are the model's whole `requirements.txt`, and it is logged without the rest of this package. The
artifact is data, not a pickle: `forecast.json` holds the forecast path, the rolling-origin errors
that calibrate its intervals and the training window, so the endpoint's entry script
(`solution/score.py`) needs nothing but `mlflow.pyfunc.load_model`.

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

from .model_code import Forecast, to_json

ARTIFACT = "forecast.json"
CODE = Path(__file__).resolve().with_name("model_code.py")
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("long", "steps"), ColSpec("double", "interval", required=False)]))
REQUIREMENTS = [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}", f"pandas=={pd.__version__}"]


def log(forecast: Forecast, name: str = "model", metadata: dict | None = None):
    """Log `forecast` as a pyfunc model in the active run; returns MLflow's ModelInfo."""
    with tempfile.TemporaryDirectory() as scratch:
        artifact = Path(scratch) / ARTIFACT
        artifact.write_text(json.dumps(to_json(forecast)))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(CODE),
            artifacts={"forecast": str(artifact)},
            signature=SIGNATURE,
            input_example=pd.DataFrame({"steps": [7]}),
            metadata={
                "model": forecast.model,
                "train_start": f"{forecast.train_start:%Y-%m-%d}",
                "train_end": f"{forecast.train_end:%Y-%m-%d}",
                **(metadata or {}),
            },
            pip_requirements=REQUIREMENTS,
        )
