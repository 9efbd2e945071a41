from typing import Any

import scipy.sparse as sp

from vaeops.errors import DataError
from vaeops.data.ingest import load_gowalla_split
from vaeops.pipelines.benchmark.nodes import benchmark_models, merged
from vaeops.data.splits import given_split

# Datasets whose source ships a train/test split, and the loader that keeps it.
GIVEN_SPLIT_LOADERS = {"gowalla": load_gowalla_split}


def split_as_given(given: dict) -> dict[str, Any]:
    dataset = given["dataset"]
    if dataset["name"] not in GIVEN_SPLIT_LOADERS:
        raise DataError(
            f"benchmark_given_split.dataset.name={dataset['name']!r} has no published "
            f"train/test split here; use one of {sorted(GIVEN_SPLIT_LOADERS)}, or run "
            "`kedro run --pipeline benchmark` for the Liang split of any dataset."
        )
    train, test = GIVEN_SPLIT_LOADERS[dataset["name"]](dataset["raw_dir"], path=dataset["path"])
    split = given_split(train, test)
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": {
            "dataset": dataset["name"],
            "users": split.train.shape[0],
            "items": split.train.shape[1],
            "train_interactions": int(split.train.nnz),
            "test_interactions": int(split.test_target.nnz),
        },
    }


def given_split_settings(benchmark: dict, given: dict) -> dict:
    """params:benchmark with the given-split entries merged over it, key by key."""
    return merged(benchmark, {key: value for key, value in given.items() if key != "dataset"})


def benchmark_on_given_split(
    train: sp.csr_matrix, test_target: sp.csr_matrix, benchmark: dict, training: dict
) -> dict[str, dict[str, Any]]:
    """Every model learns from all train items; the same items are each user's fold-in."""
    return benchmark_models(train, None, None, train, test_target, benchmark, training)
