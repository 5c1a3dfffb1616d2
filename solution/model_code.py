"""MLflow "model from code" entry: logged with each model so loading it unpickles nothing."""

from mlflow.models import set_model

from solution.model import ForecastModel

set_model(ForecastModel())
