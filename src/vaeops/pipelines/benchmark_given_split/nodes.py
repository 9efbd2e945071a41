from typing import Any

from vaeops.jobs.benchmark import benchmark_models, report_benchmark
from vaeops.recommenders.benchmark import (
    given_split_data,
    given_split_settings,
    given_split_summary,
    read_given_split,
)

__all__ = [
    "benchmark_models",
    "given_split_data",
    "given_split_settings",
    "report_benchmark",
    "split_as_given",
]


def split_as_given(given: dict) -> dict[str, Any]:
    split = read_given_split(given["dataset"])
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(given["dataset"], split),
    }
