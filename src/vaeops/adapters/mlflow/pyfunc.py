"""The trained recommender as an MLflow pyfunc model that ``mlflow models serve`` can run.

The model is logged "from code" (``pyfunc_model.py``), so nothing is unpickled
when it loads: weights are a ``state_dict`` read with ``weights_only=True``,
the item ids, popularity counts, architecture and serving limits are Parquet
and JSON artifacts, and the vaeops package travels in the model's ``code/``
folder, so the model runs wherever its pip requirements are installed.

Requests are a table with a ``history`` column (a list of original item ids:
integers for MovieLens and other integer-id logs, strings otherwise, as the
training data had them) and optional ``k`` and ``exclude_seen`` columns.
Answers hold ``items``, ``scores``, ``fallback``, ``n_unknown_items`` and
``reason``. A malformed or oversized request raises an
``INVALID_PARAMETER_VALUE`` MlflowException, which the scoring server answers
with HTTP 400 and the message.
"""

from __future__ import annotations

import json
import math
import tempfile
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import AnyType, Array, ColSpec, DataType, Schema

import vaeops
from vaeops.errors import DataError
from vaeops.recommenders.serving import Recommendation, Recommender, Request

MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
REQUIREMENTS = ("torch", "numpy", "scipy", "pandas", "pyarrow")


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """Answers a table of requests with ``vaeops.recommenders.serving.Recommender``."""

    def load_context(self, context) -> None:
        artifacts = {name: Path(path) for name, path in context.artifacts.items()}
        items = pd.read_parquet(artifacts["items"])
        self.artifacts = artifacts
        self.recommender = Recommender.from_weights(
            torch.load(artifacts["weights"], map_location="cpu", weights_only=True),
            json.loads(artifacts["model_config"].read_text()),
            items["item"].to_numpy(),
            items["popularity"].to_numpy(),
            **json.loads(artifacts["serving"].read_text()),
        )

    def seen_users(self) -> pd.Series:
        """Users the model trained or was validated on: a fair comparison scores it only
        on others. Versions logged before validation users were recorded carry only
        their training users."""
        path = self.artifacts.get("seen_users") or self.artifacts["training_users"]
        return pd.read_parquet(path)["user"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            answers = self.recommender.recommend(requests_from_frame(model_input))
        except DataError as error:
            raise MlflowException.invalid_parameter_value(str(error)) from error
        return answers_frame(answers)


def requests_from_frame(frame: pd.DataFrame) -> list[Request]:
    """One request per row; a missing or null ``k``/``exclude_seen`` takes the default."""
    if not isinstance(frame, pd.DataFrame) or "history" not in frame.columns:
        found = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise MlflowException.invalid_parameter_value(
            f"each request needs a 'history' field (a list of item ids); found {found}. Send e.g. "
            '{"dataframe_records": [{"history": [50, 172, 181], "k": 10}]}.'
        )
    ks = frame["k"].tolist() if "k" in frame.columns else [None] * len(frame)
    exclude = (
        frame["exclude_seen"].tolist() if "exclude_seen" in frame.columns else [None] * len(frame)
    )
    return [
        Request(
            history=history,
            k=None if _missing(k) else _whole_number(k),
            exclude_seen=True if _missing(seen) else seen,
        )
        for history, k, seen in zip(frame["history"].tolist(), ks, exclude, strict=True)
    ]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _whole_number(value):
    """A float column (nulls elsewhere) holds k as 10.0; hand the recommender an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def answers_frame(answers: list[Recommendation]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "items": [answer.items for answer in answers],
            "scores": [answer.scores for answer in answers],
            "fallback": [answer.fallback for answer in answers],
            "n_unknown_items": [answer.n_unknown_items for answer in answers],
            # object dtype: pandas' str dtype holds a missing reason as NaN, which the
            # scoring server writes as a bare NaN (invalid JSON) instead of null
            "reason": pd.Series([answer.reason for answer in answers], dtype=object),
        }
    )


def recommender_signature(item_ids: pd.Series) -> ModelSignature:
    """Integer ids travel as JSON integers, any other ids as strings."""
    id_type = DataType.long if pd.api.types.is_integer_dtype(item_ids) else DataType.string
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec(Array(id_type), "history"),
                # Any: records may omit them, which a typed column turns into NaN
                # (or, for booleans, True) before the model sees it; the
                # recommender validates them itself.
                ColSpec(AnyType(), "k", required=False),
                ColSpec(AnyType(), "exclude_seen", required=False),
            ]
        ),
        outputs=Schema(
            [
                ColSpec(Array(id_type), "items"),
                ColSpec(Array(DataType.double), "scores"),
                ColSpec(DataType.boolean, "fallback"),
                ColSpec(DataType.long, "n_unknown_items"),
                ColSpec(DataType.string, "reason", required=False),  # null: k personal items
            ]
        ),
    )


def log_recommender(
    weights: dict[str, torch.Tensor],
    model_config: dict,
    item_ids: pd.Series,
    popularity: np.ndarray,
    seen_users: pd.Series,
    serving: dict,
) -> ModelInfo:
    """Log the pyfunc model in the active MLflow run (registering is the registry's job).

    ``seen_users`` (training and validation users) travel with the model so that
    a later challenger is compared with it only on users it never trained or
    early-stopped on.
    """
    example_item = item_ids.tolist()[0]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        artifacts = {
            "weights": folder / "model_weights.pt",
            "model_config": folder / "model_config.json",
            "items": folder / "items.parquet",
            "serving": folder / "serving.json",
            "seen_users": folder / "seen_users.parquet",
        }
        torch.save(
            {key: tensor.detach().cpu() for key, tensor in weights.items()}, artifacts["weights"]
        )
        artifacts["model_config"].write_text(json.dumps(model_config, indent=2))
        pd.DataFrame({"item": item_ids.to_numpy(), "popularity": popularity}).to_parquet(
            artifacts["items"]
        )
        artifacts["serving"].write_text(json.dumps(serving, indent=2))
        pd.DataFrame({"user": seen_users.to_numpy()}).to_parquet(artifacts["seen_users"])
        return mlflow.pyfunc.log_model(
            name="recommender",
            python_model=str(MODEL_CODE),
            artifacts={key: str(path) for key, path in artifacts.items()},
            code_paths=[str(Path(vaeops.__file__).parent)],
            signature=recommender_signature(item_ids),
            input_example=pd.DataFrame({"history": [[example_item]], "k": [10]}),
            pip_requirements=[
                f"{package}=={version(package).split('+')[0]}" for package in REQUIREMENTS
            ],
        )
