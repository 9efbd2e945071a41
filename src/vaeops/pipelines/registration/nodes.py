import pandas as pd
import scipy.sparse as sp

from vaeops.integrations.registry import (
    CHAMPION,
    FINGERPRINT_TAG,
    N_USERS_TAG,
    ModelRegistry,
    TrainedRecommender,
)
from vaeops.recommenders.retraining import interactions_fingerprint


def register_trained_model(
    weights: dict,
    model_config: dict,
    item_map: pd.DataFrame,
    train: sp.csr_matrix,
    user_map: pd.DataFrame,
    interactions: pd.DataFrame,
    split_summary: dict,
    evaluation_report: dict,
    dataset: dict,
    registry: dict,
) -> dict:
    """Register the run's model; it becomes champion only if there is none yet.

    Later models wait for the retraining pipeline, which promotes a version
    only after comparing it with the champion on the same users.
    """
    models = ModelRegistry(registry["model_name"])
    aliases = (CHAMPION,) if models.version(CHAMPION) is None else ()
    version = models.register(
        TrainedRecommender(weights, model_config, item_map, train, user_map),
        metrics=report_metrics(evaluation_report, model_config["kind"]),
        data_tags=data_tags(dataset, interactions, split_summary),
        serving=registry["serving"],
        aliases=aliases,
    )
    return registration_summary(models, version)


def report_metrics(evaluation_report: dict, headline: str) -> dict[str, float]:
    """The run's test metrics under their MLflow names: ``test/...`` and ``popularity/...``."""
    return {
        f"{'test' if name == headline else name}/{metric}": value
        for name, summary in evaluation_report["models"].items()
        for metric, value in summary.items()
    }


def data_tags(dataset: dict, interactions: pd.DataFrame, split_summary: dict) -> dict[str, str]:
    return {
        "dataset": dataset["name"],
        FINGERPRINT_TAG: interactions_fingerprint(interactions),
        N_USERS_TAG: str(split_summary["total"]["users"]),
        "n_interactions": str(len(interactions)),
    }


def registration_summary(models: ModelRegistry, version) -> dict:
    return {
        "model_name": models.model_name,
        "version": version.version,
        "aliases": sorted(version.aliases),
        "run_id": version.run_id,
        "model_uri": f"models:/{models.model_name}/{version.version}",
    }
