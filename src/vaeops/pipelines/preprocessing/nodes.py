import pandas as pd

from vaeops.data.settings import PreprocessingParameters
from vaeops.data.splits import liang_split, split_summary


def split_users(interactions: pd.DataFrame, preprocessing: PreprocessingParameters) -> dict:
    split = liang_split(interactions, preprocessing)
    return {
        "train": split.train,
        "validation_fold_in": split.validation_fold_in,
        "validation_target": split.validation_target,
        "test_fold_in": split.test_fold_in,
        "test_target": split.test_target,
        "user_map": split.user_map,
        "item_map": split.item_map,
        "summary": split_summary(split),
    }
