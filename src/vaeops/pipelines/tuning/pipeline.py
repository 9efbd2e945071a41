from kedro.pipeline import Pipeline, node

from .nodes import compare_on_test, tune_hyperparameters


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            # The study sees the training and validation users only; it is the dataset's own.
            node(
                tune_hyperparameters,
                [
                    "train_matrix",
                    "validation_fold_in",
                    "validation_target",
                    "params:training",
                    "params:tuning",
                    "params:dataset",
                ],
                {
                    "summary": "study_summary",
                    "metrics": "study_metrics",
                    "best_params": "best_params",
                    "optimization_history": "study_optimization_history",
                    "param_importances": "study_param_importances",
                    "contour": "study_contour",
                },
                name="tune_hyperparameters",
            ),
            # The test users are used once, after the search, for both configurations.
            node(
                compare_on_test,
                [
                    "train_matrix",
                    "validation_fold_in",
                    "validation_target",
                    "test_fold_in",
                    "test_target",
                    "best_params",
                    "params:training",
                    "params:evaluation",
                ],
                {"metrics": "tuning_comparison_metrics", "report": "tuning_comparison_report"},
                name="compare_tuned_and_default_on_test",
            ),
        ]
    )
