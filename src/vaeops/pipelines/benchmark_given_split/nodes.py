from typing import Any

from vaeops.recommenders.benchmark import given_split_summary, read_given_split


def split_as_given(given: dict) -> dict[str, Any]:
    split = read_given_split(given["dataset"])
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(given["dataset"], split),
    }
