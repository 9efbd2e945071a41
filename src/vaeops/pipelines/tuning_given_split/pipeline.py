from kedro.pipeline import Pipeline, node

from vaeops.jobs.tuning import compare_on_test, tune_hyperparameters

from .nodes import carve_for_tuning, given_split_tuning_settings

MATRICES = (
    "train_matrix",
    "validation_fold_in",
    "validation_target",
    "test_fold_in",
    "test_target",
)


def create_pipeline(**kwargs) -> Pipeline:
    matrices = {name: f"given_split_tuning_{name}" for name in MATRICES}
    return Pipeline(
        [
            node(
                carve_for_tuning,
                "params:benchmark_given_split",
                matrices,
                name="carve_validation_for_tuning",
            ),
            node(
                given_split_tuning_settings,
                [
                    "params:benchmark",
                    "params:benchmark_given_split",
                    "params:training",
                    "params:tuning",
                    "params:tuning_given_split",
                ],
                {
                    "training": "given_split_tuning_training",
                    "tuning": "given_split_tuning_settings",
                    "evaluation": "given_split_tuning_evaluation",
                },
                name="merge_given_split_tuning_settings",
            ),
            # The study sees the carved train and validation users only.
            node(
                tune_hyperparameters,
                [
                    matrices["train_matrix"],
                    matrices["validation_fold_in"],
                    matrices["validation_target"],
                    "given_split_tuning_training",
                    "given_split_tuning_settings",
                    "params:benchmark_given_split.dataset",
                ],
                {
                    "summary": "given_split_study_summary",
                    "metrics": "given_split_study_metrics",
                    "best_params": "given_split_best_params",
                    "optimization_history": "given_split_study_optimization_history",
                    "param_importances": "given_split_study_param_importances",
                    "contour": "given_split_study_contour",
                },
                name="tune_on_carved_validation",
            ),
            # The test part is read once, after the search, for both configurations.
            node(
                compare_on_test,
                [
                    *matrices.values(),
                    "given_split_best_params",
                    "given_split_tuning_training",
                    "given_split_tuning_evaluation",
                ],
                {
                    "metrics": "given_split_tuning_comparison_metrics",
                    "report": "given_split_tuning_comparison_report",
                },
                name="compare_tuned_and_default_on_given_test",
            ),
        ]
    )
