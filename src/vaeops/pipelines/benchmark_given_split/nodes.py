from typing import Any

import scipy.sparse as sp

from vaeops.integrations.benchmark_tracking import benchmark_models
from vaeops.integrations.config import merged
from vaeops.recommenders.benchmark import given_split_summary, load_given_split


def split_as_given(given: dict) -> dict[str, Any]:
    split = load_given_split(given["dataset"])
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(given["dataset"]["name"], split),
    }


def given_split_settings(benchmark: dict, given: dict) -> dict:
    """params:benchmark with the given-split entries merged over it, key by key."""
    return merged(benchmark, {key: value for key, value in given.items() if key != "dataset"})


def benchmark_on_given_split(
    train: sp.csr_matrix, test_target: sp.csr_matrix, benchmark: dict, training: dict
) -> dict[str, dict[str, Any]]:
    """Every model learns from all train items; the same items are each user's fold-in."""
    return benchmark_models(train, None, None, train, test_target, benchmark, training)
