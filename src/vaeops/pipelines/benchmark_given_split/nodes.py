from typing import Any

from vaeops.data.settings import GivenSplitDatasetParameters
from vaeops.data.splits import given_split_summary, read_given_split
from vaeops.jobs import benchmark as jobs
from vaeops.jobs.benchmark import benchmark_models
from vaeops.recommenders.benchmark import given_split_data
from vaeops.recommenders.benchmark.settings import BenchmarkParameters

__all__ = ["benchmark_models", "given_split_data", "report_benchmark", "split_as_given"]


def report_benchmark(
    results: dict[str, Any], benchmark: BenchmarkParameters, dataset: GivenSplitDatasetParameters
) -> dict[str, Any]:
    """The job's report, its title naming the given split's data source."""
    return jobs.report_benchmark(results, benchmark, dataset)


def split_as_given(dataset: GivenSplitDatasetParameters) -> dict[str, Any]:
    split = read_given_split(dataset)
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(dataset, split),
    }
