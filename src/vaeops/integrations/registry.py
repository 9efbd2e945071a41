"""The MLflow model registry: one registered model, its versions, and who serves.

Every trained model becomes a version of one registered model (``registry.model_name``)
tagged with its run's test metrics and the fingerprint and size of its data.
Aliases, not the deprecated stages, say what each version is for: ``champion``
is the version ``mlflow models serve -m models:/<name>@champion`` serves,
``challenger`` the latest version a retraining run trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from vaeops.integrations.pyfunc import RecommenderModel, log_recommender
from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.retraining import comparison_scores, interactions_fingerprint
from vaeops.recommenders.serving import Recommender

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
FINGERPRINT_TAG = "dataset_fingerprint"
N_USERS_TAG = "n_users"


@dataclass(frozen=True)
class TrainedRecommender:
    """What registering a model needs, as the training and preprocessing stages produce it."""

    weights: dict[str, torch.Tensor]
    model_config: dict
    item_map: pd.DataFrame  # item, column
    train: sp.csr_matrix
    user_map: pd.DataFrame  # user, split, row

    def item_ids(self) -> pd.Series:
        return self.item_map.sort_values("column")["item"].reset_index(drop=True)

    def training_users(self) -> pd.Series:
        train_rows = self.user_map[self.user_map["split"] == "train"]
        return train_rows.sort_values("row")["user"].reset_index(drop=True)

    def popularity(self) -> np.ndarray:
        return Popularity().fit(self.train).item_counts_

    def recommender(self) -> Recommender:
        """The model as it will be served once registered."""
        return Recommender.from_weights(
            self.weights, self.model_config, self.item_ids(), self.popularity()
        )


class ModelRegistry:
    """The versions of one registered model, addressed by alias or by data fingerprint."""

    def __init__(self, model_name: str):
        self.model_name = model_name
        self.client = mlflow.MlflowClient()

    def version(self, alias: str) -> ModelVersion | None:
        """The version behind ``alias``, or None if the model or the alias does not exist yet."""
        try:
            return self.client.get_model_version_by_alias(self.model_name, alias)
        except MlflowException as error:
            if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                return None
            raise

    def versions_trained_on(self, fingerprint: str) -> list[ModelVersion]:
        return self.client.search_model_versions(
            f"name = '{self.model_name}' and tags.{FINGERPRINT_TAG} = '{fingerprint}'"
        )

    def register(
        self,
        model: TrainedRecommender,
        metrics: dict[str, float],
        data_tags: dict[str, str],
        serving: dict,
        aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        """Log the pyfunc model into the active run, register it, tag it and set ``aliases``."""
        info = log_recommender(
            model.weights,
            model.model_config,
            model.item_ids(),
            model.popularity(),
            model.training_users(),
            serving,
        )
        tags = {**data_tags, **{name: f"{value:.6g}" for name, value in metrics.items()}}
        version = mlflow.register_model(info.model_uri, self.model_name, tags=tags).version
        for alias in aliases:
            self.set_alias(alias, version)
        logger.info(
            "Registered %s version %s%s",
            self.model_name,
            version,
            f" as {', '.join(aliases)}" if aliases else "",
        )
        return self.client.get_model_version(self.model_name, str(version))

    def set_alias(self, alias: str, version: str | int) -> None:
        self.client.set_registered_model_alias(self.model_name, alias, version)

    def load(self, version: ModelVersion) -> RecommenderModel:
        """The version's pyfunc model as it is served (weights, item ids, training users)."""
        uri = f"models:/{self.model_name}/{version.version}"
        return mlflow.pyfunc.load_model(uri).unwrap_python_model()

    def scores_against(
        self,
        champion: ModelVersion | None,
        challenger: Recommender,
        held_out: pd.DataFrame,
        metric: str,
    ) -> dict[str, float | int | None]:
        """``comparison_scores`` of ``challenger`` and the served ``champion`` (if any)."""
        if champion is None:
            return comparison_scores(held_out, metric, challenger)
        served = self.load(champion)
        return comparison_scores(
            held_out, metric, challenger, served.recommender, served.training_users()
        )

    def summary(self, version: ModelVersion) -> dict:
        """Where to find ``version``: its number, aliases, run and model URI."""
        return {
            "model_name": self.model_name,
            "version": version.version,
            "aliases": sorted(version.aliases),
            "run_id": version.run_id,
            "model_uri": f"models:/{self.model_name}/{version.version}",
        }


def data_tags(dataset: dict, interactions: pd.DataFrame, split_summary: dict) -> dict[str, str]:
    """What a version was trained on: the data's name, fingerprint and size."""
    return {
        "dataset": dataset["name"],
        FINGERPRINT_TAG: interactions_fingerprint(interactions),
        N_USERS_TAG: str(split_summary["total"]["users"]),
        "n_interactions": str(len(interactions)),
    }
