from kedro.pipeline import Pipeline, node

from .nodes import ingest_current_interactions, retrain_and_decide


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                ingest_current_interactions,
                ["params:dataset", "params:retraining"],
                "retraining_interactions",
                name="ingest_current_interactions",
            ),
            node(
                retrain_and_decide,
                [
                    "retraining_interactions",
                    "params:preprocessing",
                    "params:training",
                    "params:evaluation",
                    "params:dataset",
                    "params:registry",
                    "params:retraining",
                ],
                {
                    "decision": "retraining_decision",
                    "log_line": "retraining_log",
                    "metrics": "retraining_metrics",
                    "tags": "retraining_tags",
                },
                name="retrain_and_decide",
            ),
        ]
    )
