import pandas as pd

from vaeops.data.ingest import load_configured
from vaeops.data.settings import DatasetParameters


def ingest_interactions(dataset: dict) -> pd.DataFrame:
    # Not annotated DatasetParameters: Kedro 1.7 would then hand the model to every node
    # that reads params:dataset (training, tuning, reporting, registration, retraining),
    # which still read it as a mapping.
    return load_configured(DatasetParameters.model_validate(dataset))
