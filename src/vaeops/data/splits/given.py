"""A published train/test split that ships with the data, such as LightGCN's Gowalla."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.ingest import load_given_split
from vaeops.data.settings import GivenSplitDatasetParameters
from vaeops.data.splits.common import check_interactions, distinct_pairs_csr
from vaeops.errors import DataError

logger = logging.getLogger(__name__)


@dataclass
class GivenSplit:
    """A published train/test split, such as LightGCN's Gowalla.

    Every user trains on their train items, and the same train items are the
    fold-in when that user's test items (``test_target``) are ranked; rows and
    columns are the sorted union of the ids in both parts.
    """

    train: sp.csr_matrix
    test_target: sp.csr_matrix
    user_map: pd.DataFrame
    item_map: pd.DataFrame


def given_split(train: pd.DataFrame, test: pd.DataFrame) -> GivenSplit:
    """Binary matrices of a train/test split that comes with the data."""
    for part in (train, test):
        check_interactions(part)
    if train.empty or test.empty:
        raise DataError(
            f"A given split needs interactions in both parts; got {len(train)} train and "
            f"{len(test)} test rows."
        )
    user_ids = pd.Index(np.union1d(train["user"].to_numpy(), test["user"].to_numpy()))
    item_ids = pd.Index(np.union1d(train["item"].to_numpy(), test["item"].to_numpy()))
    shape = (len(user_ids), len(item_ids))
    train_matrix, test_matrix = (
        distinct_pairs_csr(
            user_ids.get_indexer(part["user"]), item_ids.get_indexer(part["item"]), shape, name
        )
        for part, name in ((train, "train"), (test, "test"))
    )
    overlap = int(train_matrix.multiply(test_matrix).nnz)
    if overlap:
        raise DataError(
            f"{overlap} (user, item) pair(s) are in both the train and the test part. Train "
            "items are excluded from each user's ranking, so these test items could never be "
            "hit; remove them from the test part (the LightGCN splits are disjoint)."
        )
    train_items = np.bincount(train_matrix.indices, minlength=shape[1]) > 0
    test_items = np.bincount(test_matrix.indices, minlength=shape[1]) > 0
    n_test_only_items = int(np.count_nonzero(test_items & ~train_items))
    if n_test_only_items:
        logger.info(
            "%d item(s) appear only in the test part; no model learns them from training",
            n_test_only_items,
        )
    return GivenSplit(
        train=train_matrix,
        test_target=test_matrix,
        user_map=pd.DataFrame({"user": user_ids, "row": np.arange(shape[0], dtype=np.int64)}),
        item_map=pd.DataFrame({"item": item_ids, "column": np.arange(shape[1], dtype=np.int64)}),
    )


def read_given_split(dataset: GivenSplitDatasetParameters) -> GivenSplit:
    """The train/test split that ships with ``dataset`` (benchmark_given_split.dataset)."""
    train, test = load_given_split(dataset.name, dataset.raw_dir, path=dataset.path)
    return given_split(train, test)


def given_split_summary(dataset: GivenSplitDatasetParameters, split: GivenSplit) -> dict[str, Any]:
    return {
        "dataset": dataset.name,
        "path": dataset.path,
        "users": split.train.shape[0],
        "items": split.train.shape[1],
        "train_interactions": int(split.train.nnz),
        "test_interactions": int(split.test_target.nnz),
    }
