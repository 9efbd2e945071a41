"""A trained model registered in the MLflow Model Registry."""

from __future__ import annotations

import pandas as pd
import scipy.sparse as sp

from vaeops.adapters.mlflow.registry import (
    CHAMPION,
    ModelRegistry,
    TrainedRecommender,
    version_tags,
)
from vaeops.data.settings import DatasetParameters
from vaeops.recommenders.evaluation import named_metrics
from vaeops.recommenders.retraining.settings import RegistryParameters, RetrainingParameters


def register_model(
    weights: dict,
    model_config: dict,
    item_map: pd.DataFrame,
    train: sp.csr_matrix,
    user_map: pd.DataFrame,
    interactions: pd.DataFrame,
    split_summary: dict,
    evaluation_report: dict,
    dataset: DatasetParameters,
    registry: RegistryParameters,
    retraining: RetrainingParameters,
) -> dict:
    """Register the run's model; it becomes champion only if there is none yet.

    Later models wait for the retraining pipeline, which promotes a version
    only after comparing it with the champion on the same users. The version's
    headline metric is the one retraining decides on (``retraining.metric``).
    """
    models = ModelRegistry(registry.model_name)
    aliases = (CHAMPION,) if models.version(CHAMPION) is None else ()
    kind = model_config["kind"]
    version = models.register(
        TrainedRecommender(weights, model_config, item_map, train, user_map),
        tags=version_tags(
            dataset,
            interactions,
            split_summary,
            kind,
            named_metrics(evaluation_report["models"], kind),
            retraining.metric,
        ),
        serving=registry.serving,
        aliases=aliases,
    )
    return models.summary(version)
