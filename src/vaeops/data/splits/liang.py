"""Strong-generalisation split of Liang et al. 2018 (Mult-VAE), as in their code.

The split follows the preprocessing of ``dawenl/vae_cf`` (``VAE_ML20M_WWW2018``)
step for step, random draws included, so that numbers obtained here can be
compared with the paper's: with the same input and seed the matrices are the
ones the notebook writes. Users, not interactions, are held out: validation and
test users are unseen during training, and models are scored on how well they
predict a random part of each held-out user's items (the *target*) from the
rest (the *fold-in*).

Everything is vectorised over interactions so that ML-20M (20 million rows)
splits in seconds; only the per-user target sampling loops, over held-out users,
because reproducing the notebook's draws requires one ``choice`` call per user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.settings import PreprocessingParameters
from vaeops.data.splits.common import check_interactions, distinct_pairs_csr, duplicates_error
from vaeops.errors import DataError

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class LiangSplit:
    """Binary user-by-item matrices of one split, with the ids behind rows and columns.

    All matrices share the columns described by ``item_map``. A held-out split's
    fold-in and target matrices share their rows, described by ``user_map``.
    """

    train: sp.csr_matrix
    validation_fold_in: sp.csr_matrix
    validation_target: sp.csr_matrix
    test_fold_in: sp.csr_matrix
    test_target: sp.csr_matrix
    user_map: pd.DataFrame
    item_map: pd.DataFrame


# The notebook's: held-out users with fewer items give no targets, only a fold-in.
MIN_ITEMS_FOR_TARGET = 5


def liang_split(interactions: pd.DataFrame, settings: PreprocessingParameters) -> LiangSplit:
    """Split interactions into training users and held-out validation and test users.

    Steps, as in the original notebook:

    1. keep rows with ``rating > rating_threshold`` (every row if the threshold is
       None or there is no ``rating`` column);
    2. drop items with fewer than ``min_item_count`` users, then users with fewer
       than ``min_user_count`` items;
    3. shuffle the users, sorted by id, with ``RandomState(seed).permutation``;
       the last ``2 * n`` users of the permutation are held out, validation
       first, then test (``n`` is ``n_heldout_users``, or that fraction of users);
    4. keep only the items that training users interacted with, numbered in
       order of first appearance among the training rows;
    5. for each held-out user (in id order, with a fresh ``RandomState(seed)``
       per held-out split) with at least ``MIN_ITEMS_FOR_TARGET`` items, draw
       ``int(target_fraction * n_items)`` of them as targets; the rest, and all
       items of smaller users, form the fold-in.

    Rows follow the permutation order within each split. Held-out users left with
    no item after step 4 get no row; the notebook leaves such users as empty
    rows (or drops them when they sit at either end of the block), which no
    metric can score.
    """
    check_interactions(interactions)
    log = _filtered_positives(interactions, settings)
    order = _shuffled_users(log.user_ids.size, settings)
    rows = order.position_of_user[log.user_codes]
    in_train = rows < order.n_train
    columns = _train_columns(log, in_train)
    n_columns = columns.kept_items.size
    train = distinct_pairs_csr(
        rows[in_train], columns.of_row[in_train], (order.n_train, n_columns), "train"
    )
    heldout = {
        name: _held_out_part(name, rows, first, log, columns, order, settings)
        for name, first in (
            ("validation", order.n_train),
            ("test", order.n_train + order.n_heldout),
        )
    }
    codes_by_split = [order.user_order[: order.n_train]]
    codes_by_split += [heldout[name].user_codes for name in ("validation", "test")]
    item_map = pd.DataFrame(
        {
            "item": log.item_ids.take(columns.kept_items),
            "column": np.arange(n_columns, dtype=np.int64),
        }
    )
    return LiangSplit(
        train=train,
        validation_fold_in=heldout["validation"].fold_in,
        validation_target=heldout["validation"].target,
        test_fold_in=heldout["test"].fold_in,
        test_target=heldout["test"].target,
        user_map=_user_map(log.user_ids, codes_by_split),
        item_map=item_map,
    )


@dataclass(frozen=True)
class _PositiveLog:
    """The positive, filtered interactions as codes: users into the sorted ``user_ids``
    of the users kept, items into ``item_ids`` in order of first appearance."""

    user_codes: np.ndarray
    item_codes: np.ndarray
    user_ids: pd.Index
    item_ids: pd.Index
    n_filtered_items: int


def _filtered_positives(
    interactions: pd.DataFrame, settings: PreprocessingParameters
) -> _PositiveLog:
    """Steps 1 and 2."""
    user_codes, user_ids = _factorize_ids(interactions, "user", sort=True)
    item_codes, item_ids = _factorize_ids(interactions, "item", sort=False)
    positive = _positive_rows(interactions, settings.rating_threshold)
    if positive is not None:
        user_codes, item_codes = user_codes[positive], item_codes[positive]
    user_codes, item_codes, user_ids = _filter_counts(
        user_codes, item_codes, user_ids, item_ids.size, settings
    )
    n_filtered_items = np.count_nonzero(np.bincount(item_codes, minlength=item_ids.size))
    logger.info(
        "Filtered (min_item_count=%d, min_user_count=%d): %d interactions, %d users, %d items",
        settings.min_item_count,
        settings.min_user_count,
        user_codes.size,
        user_ids.size,
        n_filtered_items,
    )
    return _PositiveLog(user_codes, item_codes, user_ids, item_ids, n_filtered_items)


@dataclass(frozen=True)
class _UserOrder:
    """The shuffled users: the first ``n_train`` positions train, then ``n_heldout``
    validation and ``n_heldout`` test positions."""

    user_order: np.ndarray  # user code at each position
    position_of_user: np.ndarray
    n_train: int
    n_heldout: int


def _shuffled_users(n_users: int, settings: PreprocessingParameters) -> _UserOrder:
    """Step 3."""
    n_heldout = _heldout_count(n_users, settings)
    n_train = n_users - 2 * n_heldout
    # The legacy RandomState, as in the notebook: default_rng would permute differently.
    user_order = np.random.RandomState(settings.seed).permutation(n_users)
    position_of_user = np.empty(n_users, dtype=np.int64)
    position_of_user[user_order] = np.arange(n_users)
    logger.info(
        "Shuffled %d users with seed %d: %d train, %d validation, %d test",
        n_users,
        settings.seed,
        n_train,
        n_heldout,
        n_heldout,
    )
    return _UserOrder(user_order, position_of_user, n_train, n_heldout)


@dataclass(frozen=True)
class _TrainColumns:
    kept_items: np.ndarray  # item code of each column
    of_row: np.ndarray  # column of each interaction's item, -1 if not seen in training


def _train_columns(log: _PositiveLog, in_train: np.ndarray) -> _TrainColumns:
    """Step 4."""
    kept_items = pd.unique(log.item_codes[in_train])
    column_of_item = np.full(log.item_ids.size, -1, dtype=np.int64)
    column_of_item[kept_items] = np.arange(kept_items.size)
    logger.info(
        "Training users interacted with %d of the %d filtered items; the others are dropped",
        kept_items.size,
        log.n_filtered_items,
    )
    return _TrainColumns(kept_items, column_of_item[log.item_codes])


def _held_out_part(
    name: str,
    rows: np.ndarray,
    first_row: int,
    log: _PositiveLog,
    columns: _TrainColumns,
    order: _UserOrder,
    settings: PreprocessingParameters,
) -> _HeldOutSplit:
    """One held-out split's interactions on items seen in training, drawn into fold-in
    and target."""
    in_split = (rows >= first_row) & (rows < first_row + order.n_heldout)
    kept = in_split & (columns.of_row >= 0)
    logger.info(
        "%s: kept %d of %d interactions on items seen in training",
        name,
        np.count_nonzero(kept),
        np.count_nonzero(in_split),
    )
    shape = (order.n_heldout, columns.kept_items.size)
    return _fold_in_and_target(
        name, log.user_codes[kept], columns.of_row[kept], order.position_of_user, shape, settings
    )


@dataclass
class _HeldOutSplit:
    fold_in: sp.csr_matrix
    target: sp.csr_matrix
    user_codes: np.ndarray  # user of each row, as codes into the sorted user ids


def _user_map(user_ids: pd.Index, user_codes_by_split: list[np.ndarray]) -> pd.DataFrame:
    split_sizes = [codes.size for codes in user_codes_by_split]
    return pd.DataFrame(
        {
            "user": user_ids.take(np.concatenate(user_codes_by_split)),
            "split": np.repeat(np.array(SPLIT_NAMES, dtype=object), split_sizes),
            "row": np.concatenate([np.arange(size, dtype=np.int64) for size in split_sizes]),
        }
    )


def split_summary(split: LiangSplit) -> dict:
    """Sizes of each split, for run logs and for checking a split against the paper's."""
    n_columns = split.train.shape[1]
    parts = {
        "train": (split.train,),
        "validation": (split.validation_fold_in, split.validation_target),
        "test": (split.test_fold_in, split.test_target),
    }
    summary: dict = {}
    for name, matrices in parts.items():
        n_users = matrices[0].shape[0]
        n_interactions = sum(int(matrix.nnz) for matrix in matrices)
        item_counts = sum(np.bincount(matrix.indices, minlength=n_columns) for matrix in matrices)
        summary[name] = {
            "users": int(n_users),
            "items": int(np.count_nonzero(item_counts)),
            "interactions": n_interactions,
            "sparsity": _sparsity(n_interactions, n_users, n_columns),
        }
        if len(matrices) == 2:
            summary[name]["fold_in_interactions"] = int(matrices[0].nnz)
            summary[name]["target_interactions"] = int(matrices[1].nnz)
    total_users = sum(part["users"] for part in summary.values())
    total_interactions = sum(part["interactions"] for part in summary.values())
    summary["total"] = {
        "users": total_users,
        "items": int(n_columns),
        "interactions": total_interactions,
        "sparsity": _sparsity(total_interactions, total_users, n_columns),
    }
    return summary


def _sparsity(n_interactions: int, n_users: int, n_items: int) -> float | None:
    cells = n_users * n_items
    return 1.0 - n_interactions / cells if cells else None


def _factorize_ids(
    interactions: pd.DataFrame, column: str, sort: bool
) -> tuple[np.ndarray, pd.Index]:
    codes, ids = pd.factorize(interactions[column], sort=sort)
    n_missing = int(np.count_nonzero(codes < 0))
    if n_missing:
        raise DataError(
            f"{n_missing} interaction(s) have a missing {column} id; drop them first, e.g. "
            f"df.dropna(subset=['{column}'])."
        )
    return codes, ids


def _positive_rows(interactions: pd.DataFrame, rating_threshold: float | None) -> np.ndarray | None:
    n_rows = len(interactions)
    if rating_threshold is None or "rating" not in interactions.columns:
        logger.info("Every one of %d interactions counts as positive (no rating filter)", n_rows)
        if n_rows == 0:
            raise DataError("interactions is empty; pass at least one (user, item) row.")
        return None
    ratings = interactions["rating"].to_numpy(dtype=np.float64)
    positive = ratings > rating_threshold
    n_positive = int(np.count_nonzero(positive))
    logger.info(
        "Binarised: %d of %d interactions have rating > %s", n_positive, n_rows, rating_threshold
    )
    if n_positive == 0:
        highest = f"{np.nanmax(ratings):g}" if n_rows and not np.isnan(ratings).all() else "none"
        raise DataError(
            f"no interaction has rating > {rating_threshold} ({n_rows} rows, highest rating "
            f"{highest}); lower rating_threshold, or pass None to count every row."
        )
    return positive


def _filter_counts(
    user_codes: np.ndarray,
    item_codes: np.ndarray,
    user_ids: pd.Index,
    n_items: int,
    settings: PreprocessingParameters,
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Items first, then users, once each: the notebook does not iterate to a fixed point."""
    min_user_count, min_item_count = settings.min_user_count, settings.min_item_count
    n_before = user_codes.size
    if min_item_count > 0:
        item_counts = np.bincount(item_codes, minlength=n_items)
        frequent = item_counts[item_codes] >= min_item_count
        user_codes, item_codes = user_codes[frequent], item_codes[frequent]
    if min_user_count > 0:
        user_counts = np.bincount(user_codes, minlength=user_ids.size)
        active = user_counts[user_codes] >= min_user_count
        user_codes, item_codes = user_codes[active], item_codes[active]
    if user_codes.size == 0:
        raise DataError(
            f"no interactions left after filtering: {n_before} interactions count as positive "
            f"(rating_threshold={settings.rating_threshold}) but none survive "
            f"min_item_count={min_item_count} and min_user_count={min_user_count}; lower "
            "these counts or rating_threshold."
        )
    present = np.bincount(user_codes, minlength=user_ids.size) > 0
    return (np.cumsum(present) - 1)[user_codes], item_codes, user_ids[present]


def _heldout_count(n_users: int, settings: PreprocessingParameters) -> int:
    """``n_heldout_users`` as a count: the settings model keeps a fraction in (0, 0.5)."""
    n_heldout_users = settings.n_heldout_users
    if isinstance(n_heldout_users, Integral):
        n_heldout = int(n_heldout_users)
    else:
        n_heldout = int(n_heldout_users * n_users)
    if n_heldout < 1 or 2 * n_heldout >= n_users:
        raise DataError(
            f"too few users to hold out: {n_users} users remain after filtering "
            f"(min_user_count={settings.min_user_count}, "
            f"min_item_count={settings.min_item_count}) and "
            f"n_heldout_users={n_heldout_users} asks for {n_heldout} validation and "
            f"{n_heldout} test users, leaving {n_users - 2 * n_heldout} for training; "
            "need at least one user in each split. Lower n_heldout_users or relax the filters."
        )
    return n_heldout


def _fold_in_and_target(
    name: str,
    user_codes: np.ndarray,
    item_columns: np.ndarray,
    position_of_user: np.ndarray,
    heldout_shape: tuple[int, int],
    settings: PreprocessingParameters,
) -> _HeldOutSplit:
    """Draw each held-out user's targets as the notebook's ``split_train_test_proportion``.

    The notebook visits users in id order (a pandas groupby) and samples positions
    within each user's rows in input order, all from one generator seeded afresh
    for this split; a stable sort by user code reproduces both orders.
    ``heldout_shape`` is (users held out, columns); users left with no item get no row.
    """
    by_user = np.argsort(user_codes, kind="stable")
    user_codes, item_columns = user_codes[by_user], item_columns[by_user]
    starts = np.flatnonzero(np.diff(user_codes, prepend=-1))
    users = user_codes[starts]
    counts = np.diff(starts, append=user_codes.size)
    is_target = _drawn_targets(starts, counts, user_codes.size, settings)

    row_order = np.argsort(position_of_user[users])
    row_of_user = np.empty(users.size, dtype=np.int64)
    row_of_user[row_order] = np.arange(users.size)
    rows = np.repeat(row_of_user, counts)
    shape = (users.size, heldout_shape[1])
    fold_in = distinct_pairs_csr(
        rows[~is_target], item_columns[~is_target], shape, f"{name} fold-in"
    )
    target = distinct_pairs_csr(rows[is_target], item_columns[is_target], shape, f"{name} target")
    if fold_in.multiply(target).nnz:
        raise duplicates_error(name)
    logger.info(
        "%s: %d users (%d without items seen in training dropped), %d fold-in and %d target "
        "interactions, %d users with fewer than %d items have no targets",
        name,
        users.size,
        heldout_shape[0] - users.size,
        fold_in.nnz,
        target.nnz,
        np.count_nonzero(counts < MIN_ITEMS_FOR_TARGET),
        MIN_ITEMS_FOR_TARGET,
    )
    return _HeldOutSplit(fold_in, target, users[row_order])


def _drawn_targets(
    starts: np.ndarray, counts: np.ndarray, n_rows: int, settings: PreprocessingParameters
) -> np.ndarray:
    """Which rows (grouped by user: ``counts`` rows from each of ``starts``) are targets."""
    rng = np.random.RandomState(settings.seed)
    is_target = np.zeros(n_rows, dtype=bool)
    # One choice() per user, as the notebook draws: a vectorised draw would pick other targets.
    for start, n_items in zip(starts.tolist(), counts.tolist(), strict=True):
        if n_items >= MIN_ITEMS_FOR_TARGET:
            drawn = rng.choice(n_items, size=int(settings.target_fraction * n_items), replace=False)
            is_target[start + drawn] = True
    return is_target


def held_out_user_ids(user_map: pd.DataFrame, split: str = "test") -> np.ndarray:
    """Original ids of a held-out split's users, in the row order of its matrices."""
    return user_map[user_map["split"] == split].sort_values("row")["user"].to_numpy()
