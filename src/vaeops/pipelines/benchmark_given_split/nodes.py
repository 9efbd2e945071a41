from typing import Any

from vaeops.data.settings import GivenSplitDatasetParameters
from vaeops.data.splits import given_split_summary, read_given_split
from vaeops.jobs.benchmark import benchmark_models, report_benchmark
from vaeops.recommenders.benchmark import given_split_data

__all__ = ["benchmark_models", "given_split_data", "report_benchmark", "split_as_given"]


def split_as_given(dataset: GivenSplitDatasetParameters) -> dict[str, Any]:
    split = read_given_split(dataset)
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(dataset, split),
    }
