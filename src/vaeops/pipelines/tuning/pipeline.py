from collections.abc import Callable

from kedro.pipeline import Pipeline, node

from .nodes import compare_on_test, tune_hyperparameters

MATRICES = (
    "train_matrix",
    "validation_fold_in",
    "validation_target",
    "test_fold_in",
    "test_target",
)
SETTINGS = ("params:training", "params:tuning", "params:dataset", "params:evaluation")


def study_and_comparison(tune: Callable[..., dict], compare: Callable[..., dict]) -> Pipeline:
    """The study on the train and validation users, then the comparison on the test users:
    the template both tuning pipelines put under their namespace. It reads the five
    matrices and params:training, tuning, dataset and evaluation; ``tune`` is the study's
    node and ``compare`` the comparison's, whose signatures type params:dataset as the
    namespace's data source."""
    return Pipeline(
        [
            # The study sees the training and validation users only.
            node(
                tune,
                [*MATRICES[:3], "params:training", "params:tuning", "params:dataset"],
                {
                    "summary": "study_summary",
                    "metrics": "study_metrics",
                    "best_params": "best_params",
                    "optimization_history": "optimization_history_plot",
                    "param_importances": "param_importances_plot",
                    "contour": "contour_plot",
                },
                name="tune_hyperparameters",
            ),
            # The test users are used once, after the search, for both configurations.
            node(
                compare,
                [
                    *MATRICES,
                    "best_params",
                    "params:training",
                    "params:evaluation",
                    "params:dataset",
                ],
                {"metrics": "comparison_metrics", "report": "comparison_report"},
                name="compare_tuned_and_default_on_test",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The study of params:training on the Liang split; its outputs are ``tuning.*``."""
    return Pipeline(
        study_and_comparison(tune_hyperparameters, compare_on_test),
        namespace="tuning",
        inputs=set(MATRICES),
        parameters=set(SETTINGS),
    )
