import pandas as pd

from vaeops.data.ingest import load_interactions


def ingest_interactions(dataset: dict) -> pd.DataFrame:
    # Column names only describe user files; the named datasets have fixed layouts.
    columns = dataset["columns"] if dataset["name"] == "custom" else None
    return load_interactions(
        dataset["name"], raw_dir=dataset["raw_dir"], path=dataset["path"], columns=columns
    )
