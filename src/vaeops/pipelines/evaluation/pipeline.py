from kedro.pipeline import Pipeline, node

from .nodes import evaluate_on_test


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                evaluate_on_test,
                [
                    "model_weights",
                    "model_config",
                    "train_matrix",
                    "test_fold_in",
                    "test_target",
                    "user_map",
                    "params:evaluation",
                    "params:dataset",
                ],
                {
                    "metrics": "test_metrics",
                    "report": "evaluation_report",
                    "report_markdown": "evaluation_report_markdown",
                    "per_user": "per_user_metrics",
                },
                name="evaluate_on_test",
            )
        ]
    )
