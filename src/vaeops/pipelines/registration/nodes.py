import pandas as pd
import scipy.sparse as sp

from vaeops.jobs.registration import register_model
from vaeops.recommenders.retraining.settings import RetrainingParameters


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
    retraining: RetrainingParameters,
) -> dict:
    """Register the run's model; it becomes champion only if there is none yet."""
    return register_model(
        weights,
        model_config,
        item_map,
        train,
        user_map,
        interactions,
        split_summary,
        evaluation_report,
        dataset,
        registry,
        retraining,
    )
