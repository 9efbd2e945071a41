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
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.sparse import binary_csr
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


def liang_split(
    interactions: pd.DataFrame,
    rating_threshold: float | None = 3.5,
    min_user_count: int = 5,
    min_item_count: int = 0,
    n_heldout_users: int | float = 0.1,
    target_fraction: float = 0.2,
    min_items_for_target: int = 5,
    seed: int = 98765,
) -> LiangSplit:
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
       per held-out split) with at least ``min_items_for_target`` items, draw
       ``int(target_fraction * n_items)`` of them as targets; the rest, and all
       items of smaller users, form the fold-in.

    Rows follow the permutation order within each split. Held-out users left with
    no item after step 4 get no row; the notebook leaves such users as empty
    rows (or drops them when they sit at either end of the block), which no
    metric can score.
    """
    _check_interactions(interactions)
    _check_split_sizes(n_heldout_users, target_fraction)

    user_codes, user_ids = _factorize_ids(interactions, "user", sort=True)
    item_codes, item_ids = _factorize_ids(interactions, "item", sort=False)

    positive = _positive_rows(interactions, rating_threshold)
    if positive is not None:
        user_codes, item_codes = user_codes[positive], item_codes[positive]

    user_codes, item_codes, user_ids = _filter_counts(
        user_codes,
        item_codes,
        user_ids,
        item_ids.size,
        min_user_count,
        min_item_count,
        rating_threshold,
    )
    n_users = user_ids.size
    n_filtered_items = np.count_nonzero(np.bincount(item_codes, minlength=item_ids.size))
    logger.info(
        "Filtered (min_item_count=%d, min_user_count=%d): %d interactions, %d users, %d items",
        min_item_count,
        min_user_count,
        user_codes.size,
        n_users,
        n_filtered_items,
    )
    n_heldout = _heldout_count(n_heldout_users, n_users, min_user_count, min_item_count)
    n_train = n_users - 2 * n_heldout

    # The legacy RandomState, as in the notebook: default_rng would permute differently.
    user_order = np.random.RandomState(seed).permutation(n_users)
    position_of_user = np.empty(n_users, dtype=np.int64)
    position_of_user[user_order] = np.arange(n_users)
    row_positions = position_of_user[user_codes]
    logger.info(
        "Shuffled %d users with seed %d: %d train, %d validation, %d test",
        n_users,
        seed,
        n_train,
        n_heldout,
        n_heldout,
    )

    in_train = row_positions < n_train
    train_item_codes = pd.unique(item_codes[in_train])
    column_of_item = np.full(item_ids.size, -1, dtype=np.int64)
    column_of_item[train_item_codes] = np.arange(train_item_codes.size)
    item_columns = column_of_item[item_codes]
    n_columns = train_item_codes.size
    logger.info(
        "Training users interacted with %d of the %d filtered items; the others are dropped",
        n_columns,
        n_filtered_items,
    )

    train = _distinct_pairs_csr(
        row_positions[in_train], item_columns[in_train], (n_train, n_columns), "train"
    )

    seen_in_train = item_columns >= 0
    heldout: dict[str, _HeldOutSplit] = {}
    for name, first_position in (("validation", n_train), ("test", n_train + n_heldout)):
        in_split = (row_positions >= first_position) & (row_positions < first_position + n_heldout)
        kept = in_split & seen_in_train
        logger.info(
            "%s: kept %d of %d interactions on items seen in training",
            name,
            np.count_nonzero(kept),
            np.count_nonzero(in_split),
        )
        heldout[name] = _fold_in_and_target(
            name,
            user_codes[kept],
            item_columns[kept],
            position_of_user,
            n_heldout,
            n_columns,
            target_fraction,
            min_items_for_target,
            seed,
        )

    user_map = _user_map(
        user_ids,
        [user_order[:n_train], heldout["validation"].user_codes, heldout["test"].user_codes],
    )
    item_map = pd.DataFrame(
        {"item": item_ids.take(train_item_codes), "column": np.arange(n_columns, dtype=np.int64)}
    )
    return LiangSplit(
        train=train,
        validation_fold_in=heldout["validation"].fold_in,
        validation_target=heldout["validation"].target,
        test_fold_in=heldout["test"].fold_in,
        test_target=heldout["test"].target,
        user_map=user_map,
        item_map=item_map,
    )


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
        _check_interactions(part)
    if train.empty or test.empty:
        raise DataError(
            f"A given split needs interactions in both parts; got {len(train)} train and "
            f"{len(test)} test rows."
        )
    user_ids = pd.Index(np.union1d(train["user"].to_numpy(), test["user"].to_numpy()))
    item_ids = pd.Index(np.union1d(train["item"].to_numpy(), test["item"].to_numpy()))
    shape = (len(user_ids), len(item_ids))
    train_matrix, test_matrix = (
        _distinct_pairs_csr(
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


def _check_interactions(interactions: pd.DataFrame) -> None:
    missing = [column for column in ("user", "item") if column not in interactions.columns]
    if missing:
        raise DataError(
            f"interactions lack column(s) {missing}; found {list(interactions.columns)}. "
            "Expected 'user' and 'item' (original ids) and optionally 'rating' and "
            "'timestamp'; rename your id columns, e.g. "
            "df.rename(columns={'userId': 'user', 'movieId': 'item'})."
        )


def _check_split_sizes(n_heldout_users: int | float, target_fraction: float) -> None:
    if isinstance(n_heldout_users, bool) or not isinstance(n_heldout_users, Real):
        raise DataError(
            f"n_heldout_users must be a number, got {n_heldout_users!r}; pass a count "
            "(int >= 1) or a fraction of users (float in (0, 0.5))."
        )
    if isinstance(n_heldout_users, Integral):
        if n_heldout_users < 1:
            raise DataError(
                f"n_heldout_users={n_heldout_users} holds out no users; pass a count >= 1 "
                "or a fraction of users in (0, 0.5)."
            )
    elif not 0.0 < n_heldout_users < 0.5:
        raise DataError(
            f"n_heldout_users={n_heldout_users} is out of range: as a fraction it must lie in "
            "(0, 0.5), because validation and test each take that fraction of users and "
            "training needs the rest; pass e.g. 0.1, or an int count."
        )
    if not 0.0 < target_fraction < 1.0:
        raise DataError(
            f"target_fraction={target_fraction} is out of range: it must lie in (0, 1) so that "
            "held-out users have both fold-in and target items; the paper uses 0.2."
        )


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
    min_user_count: int,
    min_item_count: int,
    rating_threshold: float | None,
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Items first, then users, once each: the notebook does not iterate to a fixed point."""
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
            f"(rating_threshold={rating_threshold}) but none survive "
            f"min_item_count={min_item_count} and min_user_count={min_user_count}; lower "
            "these counts or rating_threshold."
        )
    present = np.bincount(user_codes, minlength=user_ids.size) > 0
    return (np.cumsum(present) - 1)[user_codes], item_codes, user_ids[present]


def _heldout_count(
    n_heldout_users: int | float, n_users: int, min_user_count: int, min_item_count: int
) -> int:
    if isinstance(n_heldout_users, Integral):
        n_heldout = int(n_heldout_users)
    else:
        n_heldout = int(n_heldout_users * n_users)
    if n_heldout < 1 or 2 * n_heldout >= n_users:
        raise DataError(
            f"too few users to hold out: {n_users} users remain after filtering "
            f"(min_user_count={min_user_count}, min_item_count={min_item_count}) and "
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
    n_heldout: int,
    n_columns: int,
    target_fraction: float,
    min_items_for_target: int,
    seed: int,
) -> _HeldOutSplit:
    """Draw each held-out user's targets as the notebook's ``split_train_test_proportion``.

    The notebook visits users in id order (a pandas groupby) and samples positions
    within each user's rows in input order, all from one generator seeded afresh
    for this split; a stable sort by user code reproduces both orders.
    """
    by_user = np.argsort(user_codes, kind="stable")
    user_codes, item_columns = user_codes[by_user], item_columns[by_user]
    starts = np.flatnonzero(np.diff(user_codes, prepend=-1))
    users = user_codes[starts]
    counts = np.diff(starts, append=user_codes.size)

    rng = np.random.RandomState(seed)
    is_target = np.zeros(user_codes.size, dtype=bool)
    # One choice() per user, as the notebook draws: a vectorised draw would pick other targets.
    for start, n_items in zip(starts.tolist(), counts.tolist(), strict=True):
        if n_items >= min_items_for_target:
            drawn = rng.choice(n_items, size=int(target_fraction * n_items), replace=False)
            is_target[start + drawn] = True

    row_order = np.argsort(position_of_user[users])
    row_of_user = np.empty(users.size, dtype=np.int64)
    row_of_user[row_order] = np.arange(users.size)
    rows = np.repeat(row_of_user, counts)
    shape = (users.size, n_columns)
    fold_in = _distinct_pairs_csr(
        rows[~is_target], item_columns[~is_target], shape, f"{name} fold-in"
    )
    target = _distinct_pairs_csr(rows[is_target], item_columns[is_target], shape, f"{name} target")
    if fold_in.multiply(target).nnz:
        raise _duplicates_error(name)
    logger.info(
        "%s: %d users (%d without items seen in training dropped), %d fold-in and %d target "
        "interactions, %d users with fewer than %d items have no targets",
        name,
        users.size,
        n_heldout - users.size,
        fold_in.nnz,
        target.nnz,
        np.count_nonzero(counts < min_items_for_target),
        min_items_for_target,
    )
    return _HeldOutSplit(fold_in, target, users[row_order])


def _distinct_pairs_csr(
    rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int], name: str
) -> sp.csr_matrix:
    matrix = binary_csr(rows, columns, shape)
    if matrix.nnz != rows.size:
        raise _duplicates_error(name)
    return matrix


def _duplicates_error(name: str) -> DataError:
    return DataError(
        f"the {name} interactions repeat (user, item) pairs; the split expects one row per "
        "pair. Deduplicate first, e.g. df.drop_duplicates(subset=['user', 'item'])."
    )


def held_out_user_ids(user_map: pd.DataFrame, split: str = "test") -> np.ndarray:
    """Original ids of a held-out split's users, in the row order of its matrices."""
    return user_map[user_map["split"] == split].sort_values("row")["user"].to_numpy()


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
    train: sp.csr_matrix, share: float = 0.1, seed: int = 98765, max_users: int | None = None
) -> CarvedValidation:
    """A seeded ``share`` of each validation user's train items become their targets.

    Validation users are all users, or ``max_users`` of them drawn at random; the
    others keep all their items for training. A user keeps at least one item and
    gives at least one (``round(share * n)`` of n items), so users with fewer than
    two items are never validation users.
    """
    if not 0 < share < 1:
        raise DataError(f"The validation share must be between 0 and 1, got {share}.")
    rng = np.random.default_rng(seed)
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
