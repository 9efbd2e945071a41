import pandas as pd

from vaeops.data.ingest import load_configured


def ingest_interactions(dataset: dict) -> pd.DataFrame:
    return load_configured(dataset)
