from typing import Any

from vaeops.data.settings import GivenSplitDatasetParameters
from vaeops.data.splits import given_split_summary, read_given_split


def split_as_given(given: dict) -> dict[str, Any]:
    dataset = GivenSplitDatasetParameters.model_validate(given["dataset"])
    split = read_given_split(dataset)
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(dataset, split),
    }
