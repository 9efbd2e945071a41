"""The code MLflow runs to build the served model ("models from code"): nothing is unpickled."""

import mlflow

from vaeops.adapters.mlflow.pyfunc import RecommenderModel

mlflow.models.set_model(RecommenderModel())
