"""The retraining pipeline's nodes: the current interactions, then one round of retraining
(``vaeops.jobs.retraining``)."""

import pandas as pd

from vaeops.data.settings import DatasetParameters
from vaeops.jobs.retraining import retrain_and_decide
from vaeops.recommenders.retraining import RetrainingParameters, current_interactions

__all__ = ["ingest_current_interactions", "retrain_and_decide"]


def ingest_current_interactions(
    dataset: DatasetParameters, retraining: RetrainingParameters
) -> pd.DataFrame:
    return current_interactions(dataset, retraining.extra_files)
