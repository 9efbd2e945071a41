"""Validation users carved out of the train part of a split that ships only train and
test (LightGCN's), so that every choice is made without the test part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from vaeops.data.settings import CarvedValidationParameters
from vaeops.data.sparse import binary_csr
from vaeops.errors import DataError


@dataclass(frozen=True)
class CarvedValidation:
    """Validation carved out of a split that ships only train and test.

    ``train`` is the given train matrix less the carved items; ``fold_in`` and
    ``target`` are the validation users' remaining and carved items, row for row
    (``rows`` are those users' rows in ``train``). The test part plays no role.
    """

    train: sp.csr_matrix
    fold_in: sp.csr_matrix
    target: sp.csr_matrix
    rows: np.ndarray


def carve_validation(
    train: sp.csr_matrix, validation: CarvedValidationParameters
) -> CarvedValidation:
    """A seeded ``share`` of each validation user's train items become their targets.

    Validation users are all users, or ``max_users`` of them drawn at random; the
    others keep all their items for training. A user keeps at least one item and
    gives at least one (``round(share * n)`` of n items), so users with fewer than
    two items are never validation users. The settings model keeps ``share`` in (0, 1).
    """
    share, max_users = validation.share, validation.max_users
    rng = np.random.default_rng(validation.seed)
    counts = np.diff(train.indptr)
    n_carved = np.minimum(np.floor(share * counts + 0.5).astype(np.int64), counts - 1)
    candidates = np.flatnonzero(n_carved >= 1)
    if candidates.size == 0:
        raise DataError(
            f"No user has enough train items to carve {share:.0%} of them for validation; "
            "use a larger share or a split with longer histories."
        )
    if max_users is not None and candidates.size > max_users:
        candidates = np.sort(rng.choice(candidates, size=max_users, replace=False))
    n_carved_by_row = np.zeros(train.shape[0], dtype=np.int64)
    n_carved_by_row[candidates] = n_carved[candidates]
    row_of_value = np.repeat(np.arange(train.shape[0]), counts)
    # Rank the items of each row in a random order; the first n_carved become targets.
    order = np.lexsort((rng.random(train.nnz), row_of_value))
    rank = np.empty(train.nnz, dtype=np.int64)
    rank[order] = np.arange(train.nnz) - train.indptr[row_of_value[order]]
    carved = rank < n_carved_by_row[row_of_value]
    coo = train.tocoo()
    remaining = binary_csr(coo.row[~carved], coo.col[~carved], train.shape)
    held = binary_csr(coo.row[carved], coo.col[carved], train.shape)
    return CarvedValidation(
        train=remaining, fold_in=remaining[candidates], target=held[candidates], rows=candidates
    )
