from kedro.pipeline import Pipeline, node

from .nodes import register_trained_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                register_trained_model,
                [
                    "model_weights",
                    "model_config",
                    "item_map",
                    "train_matrix",
                    "user_map",
                    "interactions",
                    "split_summary",
                    "evaluation_report",
                    "params:dataset",
                    "params:registry",
                    "params:retraining",
                ],
                "registered_model",
                name="register_trained_model",
            )
        ]
    )
