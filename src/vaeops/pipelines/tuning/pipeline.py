from kedro.pipeline import Pipeline, node
from pydantic import BaseModel

from vaeops.data.settings import DatasetParameters

from .nodes import compare_on_test, on_data_source, tune_hyperparameters

MATRICES = (
    "train_matrix",
    "validation_fold_in",
    "validation_target",
    "test_fold_in",
    "test_target",
)
SETTINGS = ("params:training", "params:tuning", "params:dataset", "params:evaluation")


def study_and_comparison(source: type[BaseModel]) -> Pipeline:
    """The study on the train and validation users, then the comparison on the test users:
    the template both tuning pipelines put under their namespace. It reads the five
    matrices and params:training, tuning, dataset and evaluation; params:dataset is the
    namespace's data ``source``."""
    return Pipeline(
        [
            # The study sees the training and validation users only.
            node(
                on_data_source(tune_hyperparameters, source),
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
                on_data_source(compare_on_test, source),
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
        study_and_comparison(DatasetParameters),
        namespace="tuning",
        inputs=set(MATRICES),
        parameters=set(SETTINGS),
    )
