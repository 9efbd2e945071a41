from kedro.pipeline import Pipeline, node

from .nodes import split_users


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                split_users,
                ["interactions", "params:preprocessing"],
                {
                    "train": "train_matrix",
                    "validation_fold_in": "validation_fold_in",
                    "validation_target": "validation_target",
                    "test_fold_in": "test_fold_in",
                    "test_target": "test_target",
                    "user_map": "user_map",
                    "item_map": "item_map",
                    "summary": "split_summary",
                },
                name="split_users",
            )
        ]
    )
