from kedro.pipeline import Pipeline, node

from .nodes import ingest_interactions


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [node(ingest_interactions, "params:dataset", "interactions", name="ingest_interactions")]
    )
