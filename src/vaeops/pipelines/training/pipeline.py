from kedro.pipeline import Pipeline, node

from vaeops.reports.training import training_curves

from .nodes import train_recommender


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                train_recommender,
                [
                    "train_matrix",
                    "validation_fold_in",
                    "validation_target",
                    "params:training",
                    "params:dataset",
                    "params:checkpoint",
                ],
                {
                    "weights": "model_weights",
                    "model_config": "model_config",
                    "history": "training_history",
                    "run_tags": "run_tags",
                    "summary": "training_summary",
                },
                name="train_recommender",
            ),
            node(
                training_curves,
                "training_history",
                "training_curves",
                name="plot_training_curves",
            ),
        ]
    )
