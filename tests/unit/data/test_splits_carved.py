import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from vaeops.data.settings import CarvedValidationParameters
from vaeops.data.splits import carve_validation
from vaeops.errors import DataError


def validation(share=0.1, seed=98765, max_users=None):
    return CarvedValidationParameters(share=share, seed=seed, max_users=max_users)


def histories(lengths, n_items=50, seed=0):
    rng = np.random.default_rng(seed)
    rows = [np.full(n, u) for u, n in enumerate(lengths)]
    cols = [rng.choice(n_items, size=n, replace=False) for n in lengths]
    data = np.ones(sum(lengths), dtype=np.float32)
    return sp.csr_matrix(
        (data, (np.concatenate(rows), np.concatenate(cols))), (len(lengths), n_items)
    )


def test_carved_items_come_only_from_training_and_partition_it():
    train = histories([20, 10, 5, 1, 2, 31])
    carved = carve_validation(train, validation(share=0.1, seed=3))
    expand = sp.csr_matrix(
        (np.ones(carved.rows.size, np.float32), (carved.rows, np.arange(carved.rows.size))),
        shape=(train.shape[0], carved.rows.size),
    )
    held = expand @ carved.target  # the targets back on their users' rows
    # Remaining train and carved targets split the given train matrix exactly.
    assert (carved.train + held != train).nnz == 0
    assert carved.train.multiply(held).nnz == 0
    # round(10% of n), at least one kept and one given: 20->2, 10->1, 5->1 (0.5 rounds up),
    # 1 -> none (cannot give), 2 -> none (0.2 rounds to 0), 31->3.
    assert carved.rows.tolist() == [0, 1, 2, 5]
    assert np.diff(carved.target.indptr).tolist() == [2, 1, 1, 3]
    assert (carved.fold_in != carved.train[carved.rows]).nnz == 0


def test_the_carve_is_seeded_and_can_limit_validation_users():
    train = histories([10] * 40)
    first, again = (
        carve_validation(train, validation(seed=1)),
        carve_validation(train, validation(seed=1)),
    )
    assert (first.target != again.target).nnz == 0
    assert (first.target != carve_validation(train, validation(seed=2)).target).nnz > 0
    limited = carve_validation(train, validation(seed=1, max_users=7))
    assert limited.rows.size == 7 and np.all(np.diff(limited.rows) > 0)
    others = np.setdiff1d(np.arange(40), limited.rows)
    assert (limited.train[others] != train[others]).nnz == 0  # non-validation users keep all


def test_nothing_to_carve_is_a_clear_error():
    with pytest.raises(DataError, match="enough train items"):
        carve_validation(histories([1, 1, 1]), validation())
    with pytest.raises(ValidationError, match="less than 1"):
        validation(share=1.0)
