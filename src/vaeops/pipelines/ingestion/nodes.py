import pandas as pd

from vaeops.data.ingest import load_configured
from vaeops.data.settings import DatasetParameters


def ingest_interactions(dataset: DatasetParameters) -> pd.DataFrame:
    return load_configured(dataset)
