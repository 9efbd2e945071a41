"""The Liang et al. split: invariants, equality with the original notebook, real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from tests.helpers.data_settings import preprocessing
from vaeops.data.splits import LiangSplit, given_split, liang_split, split_summary
from vaeops.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[3]
HALF_STARS = np.arange(1, 11) / 2
HALF_STAR_SHARES = np.array([0.01, 0.03, 0.02, 0.07, 0.05, 0.2, 0.12, 0.28, 0.08, 0.14])
HELDOUT_SPLITS = ("validation", "test")


def synthetic_log(
    n_users: int = 150, n_items: int = 40, seed: int = 0, string_ids: bool = False
) -> pd.DataFrame:
    """Small log with sparse, unordered ids and rows in random order, so that sorting matters."""
    rng = np.random.default_rng(seed)
    user_ids = rng.choice(10_000, size=n_users, replace=False)
    item_ids = rng.choice(10_000, size=n_items, replace=False)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    users, items = [], []
    for user in user_ids:
        n_rated = rng.integers(2, 30)
        users += [user] * n_rated
        items += list(rng.choice(item_ids, size=n_rated, replace=False, p=popularity))
    log = pd.DataFrame(
        {
            "user": users,
            "item": items,
            "rating": rng.choice(HALF_STARS, size=len(users), p=HALF_STAR_SHARES),
        }
    )
    if string_ids:
        # Unpadded, so the lexicographic order the notebook's groupby uses differs from numeric.
        log["user"] = "u" + log["user"].astype(str)
        log["item"] = "i" + log["item"].astype(str)
    return log.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def notebook_reference(
    raw: pd.DataFrame,
    n_heldout: int,
    seed: int = 98765,
    rating_threshold: float | None = 3.5,
    min_uc: int = 5,
    min_sc: int = 0,
    test_prop: float = 0.2,
) -> dict:
    """Preprocessing of dawenl/vae_cf VAE_ML20M_WWW2018.ipynb, restated with pandas.

    Uses the global NumPy RNG exactly as the notebook does (state restored after).
    ``groupby(col).size()`` stands in for the notebook's ``get_count``, whose
    ``as_index=False`` returned a Series indexed by id in the pandas of its day.
    """
    if rating_threshold is not None:
        raw = raw[raw["rating"] > rating_threshold]
    if min_sc > 0:
        item_count = raw.groupby("item").size()
        raw = raw[raw["item"].isin(item_count.index[item_count >= min_sc])]
    if min_uc > 0:
        user_count = raw.groupby("user").size()
        raw = raw[raw["user"].isin(user_count.index[user_count >= min_uc])]
    user_activity = raw.groupby("user").size()

    def split_train_test_proportion(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        fold_in, target = [], []
        np.random.seed(seed)
        for _, group in data.groupby("user"):
            n_items_u = len(group)
            if n_items_u >= 5:
                chosen = np.zeros(n_items_u, dtype=bool)
                chosen[
                    np.random.choice(n_items_u, size=int(test_prop * n_items_u), replace=False)
                ] = True
                fold_in.append(group[~chosen])
                target.append(group[chosen])
            else:
                fold_in.append(group)
        return pd.concat(fold_in), pd.concat(target)

    saved_state = np.random.get_state()
    try:
        unique_uid = user_activity.index
        np.random.seed(seed)
        unique_uid = unique_uid[np.random.permutation(unique_uid.size)]
        n_users = unique_uid.size
        train_users = unique_uid[: n_users - 2 * n_heldout]
        heldout_users = {
            "validation": unique_uid[n_users - 2 * n_heldout : n_users - n_heldout],
            "test": unique_uid[n_users - n_heldout :],
        }
        train_plays = raw.loc[raw["user"].isin(train_users)]
        unique_sid = pd.unique(train_plays["item"])
        heldout_parts = {}
        for name, users in heldout_users.items():
            plays = raw.loc[raw["user"].isin(users)]
            plays = plays.loc[plays["item"].isin(unique_sid)]
            assert plays["user"].nunique() == users.size, "reference assumes no user vanishes"
            heldout_parts[name] = split_train_test_proportion(plays)
    finally:
        np.random.set_state(saved_state)

    show2id = {sid: i for i, sid in enumerate(unique_sid)}
    profile2id = {pid: i for i, pid in enumerate(unique_uid)}
    n_items = len(unique_sid)

    def numerize(plays: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (
            plays["user"].map(profile2id).to_numpy(),
            plays["item"].map(show2id).to_numpy(),
        )

    def csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(n_rows, n_items)
        )

    rows, cols = numerize(train_plays)
    reference = {"train": csr(rows, cols, rows.max() + 1)}
    for name, (fold_in, target) in heldout_parts.items():
        (rows_tr, cols_tr), (rows_te, cols_te) = numerize(fold_in), numerize(target)
        start = min(rows_tr.min(), rows_te.min())
        end = max(rows_tr.max(), rows_te.max())
        reference[f"{name}_fold_in"] = csr(rows_tr - start, cols_tr, end - start + 1)
        reference[f"{name}_target"] = csr(rows_te - start, cols_te, end - start + 1)
        reference[f"{name}_users"] = list(unique_uid[start : end + 1])
    reference["train_users"] = list(train_users)
    reference["items"] = list(unique_sid)
    return reference


def assert_same_matrix(actual: sp.csr_matrix, expected: sp.csr_matrix) -> None:
    assert actual.shape == expected.shape
    assert (actual != expected.astype(np.float32)).nnz == 0


def assert_matches_reference(split: LiangSplit, reference: dict) -> None:
    assert split.item_map["item"].tolist() == reference["items"]
    assert_same_matrix(split.train, reference["train"])
    for name in ("train", *HELDOUT_SPLITS):
        users = split.user_map.loc[split.user_map["split"] == name, "user"].tolist()
        assert users == reference[f"{name}_users"]
    for name in HELDOUT_SPLITS:
        for part in ("fold_in", "target"):
            assert_same_matrix(getattr(split, f"{name}_{part}"), reference[f"{name}_{part}"])


REFERENCE_CASES = {
    "defaults": ({}, {}),
    "filters and no threshold": (
        {"rating_threshold": None, "min_user_count": 3, "min_item_count": 10},
        {"rating_threshold": None, "min_uc": 3, "min_sc": 10},
    ),
    "other seed": ({"seed": 1}, {"seed": 1}),
}


@pytest.mark.parametrize("string_ids", [False, True], ids=["int ids", "string ids"])
@pytest.mark.parametrize("case", REFERENCE_CASES.values(), ids=REFERENCE_CASES.keys())
def test_matches_notebook_reference(case: tuple[dict, dict], string_ids: bool) -> None:
    ours, theirs = case
    log = synthetic_log(string_ids=string_ids)
    split = liang_split(log, preprocessing(n_heldout_users=12, **ours))
    assert_matches_reference(split, notebook_reference(log, n_heldout=12, **theirs))


def test_users_are_shuffled_in_sorted_id_order() -> None:
    log = synthetic_log()
    split = liang_split(
        log, preprocessing(n_heldout_users=10, rating_threshold=None, min_user_count=0)
    )
    sorted_users = np.sort(log["user"].unique())
    shuffled = sorted_users[np.random.RandomState(98765).permutation(sorted_users.size)]
    expected_split = ["train"] * (sorted_users.size - 20) + ["validation"] * 10 + ["test"] * 10
    assert split.user_map["user"].tolist() == shuffled.tolist()
    assert split.user_map["split"].tolist() == expected_split


def rare_items_log() -> pd.DataFrame:
    """Synthetic log plus items that only one user rated, so some fall outside training."""
    log = synthetic_log(n_users=150)
    rng = np.random.default_rng(1)
    rare = pd.DataFrame(
        {
            "user": rng.choice(log["user"].unique(), size=40, replace=False),
            "item": np.arange(20_000, 20_040),
            "rating": 5.0,
        }
    )
    return pd.concat([log, rare], ignore_index=True)


def kept_items_by_user(split: LiangSplit, name: str) -> dict:
    """Original user id -> set of original item ids, fold-in and target together."""
    users = split.user_map.loc[split.user_map["split"] == name].sort_values("row")["user"]
    items = split.item_map["item"].to_numpy()
    if name == "train":
        matrices = (split.train,)
    else:
        matrices = (getattr(split, f"{name}_fold_in"), getattr(split, f"{name}_target"))
    combined = sum(matrices)
    return {user: set(items[combined[row].indices]) for row, user in enumerate(users)}


INVARIANT_CASES = {
    "defaults": {},
    "small users kept": {"min_user_count": 1, "min_item_count": 2},
    "no threshold": {"rating_threshold": None},
    "threshold 2": {"rating_threshold": 2.0},
}


@pytest.mark.parametrize("params", INVARIANT_CASES.values(), ids=INVARIANT_CASES.keys())
def test_split_invariants(params: dict) -> None:
    log = rare_items_log()
    threshold = params.get("rating_threshold", 3.5)
    min_users = params.get("min_user_count", 5)
    min_items = params.get("min_item_count", 0)
    split = liang_split(log, preprocessing(n_heldout_users=15, **params))

    positive = log if threshold is None else log[log["rating"] > threshold]
    item_count = positive.groupby("item")["user"].transform("size")
    filtered = positive[item_count >= min_items]
    user_count = filtered.groupby("user")["item"].transform("size")
    filtered = filtered[user_count >= min_users]
    items_of = filtered.groupby("user")["item"].agg(set).to_dict()

    user_map, item_map = split.user_map, split.item_map
    train_items = set(item_map["item"])
    assert not user_map["user"].duplicated().any(), "a user is in two splits"
    assert set(user_map["user"]) <= set(items_of), "a user below min_user_count was kept"
    dropped = set(items_of) - set(user_map["user"])
    assert all(not items_of[user] & train_items for user in dropped)
    assert (item_map["column"].to_numpy() == np.arange(len(item_map))).all()
    assert (split.train.getnnz(axis=0) > 0).all(), "every column is an item seen in training"

    train_items_of = kept_items_by_user(split, "train")
    assert train_items_of == {user: items_of[user] for user in train_items_of}

    for name in HELDOUT_SPLITS:
        fold_in, target = getattr(split, f"{name}_fold_in"), getattr(split, f"{name}_target")
        assert fold_in.shape == target.shape == ((user_map["split"] == name).sum(), len(item_map))
        assert fold_in.multiply(target).nnz == 0, "fold-in and target overlap"
        heldout_items_of = kept_items_by_user(split, name)
        for row, user in enumerate(heldout_items_of):
            kept = items_of[user] & train_items
            assert heldout_items_of[user] == kept
            assert target[row].nnz == (int(0.2 * len(kept)) if len(kept) >= 5 else 0)

    heldout_matrices = [
        getattr(split, f"{name}_{part}")
        for name in HELDOUT_SPLITS
        for part in ("fold_in", "target")
    ]
    for matrix in (split.train, *heldout_matrices):
        assert isinstance(matrix, sp.csr_matrix)
        assert matrix.dtype == np.float32
        assert matrix.has_sorted_indices
        assert (matrix.data == 1).all()


def test_some_heldout_users_have_no_targets_and_items_are_restricted() -> None:
    """Guards the invariant test's coverage: both branches must actually occur."""
    log = rare_items_log()
    split = liang_split(log, preprocessing(n_heldout_users=15, min_user_count=1))
    fold_in_sizes = np.concatenate(
        [getattr(split, f"{name}_fold_in").getnnz(axis=1) for name in HELDOUT_SPLITS]
    )
    target_sizes = np.concatenate(
        [getattr(split, f"{name}_target").getnnz(axis=1) for name in HELDOUT_SPLITS]
    )
    assert ((target_sizes == 0) & (fold_in_sizes < 5)).any()
    assert set(log["item"]) - set(split.item_map["item"]), "no item was dropped"


def test_heldout_user_with_only_unseen_items_gets_no_row() -> None:
    users = np.arange(10)
    log = pd.DataFrame({"user": np.repeat(users, 5), "item": np.tile(np.arange(5), 10)})
    last_test_user = np.random.RandomState(98765).permutation(10)[-1]
    log.loc[log["user"] == last_test_user, "item"] += 100
    split = liang_split(log, preprocessing(n_heldout_users=2))
    assert last_test_user not in set(split.user_map["user"])
    assert split.test_fold_in.shape[0] == split.test_target.shape[0] == 1
    assert len(split.item_map) == 5


def test_same_seed_reproduces_and_other_seed_differs() -> None:
    log = synthetic_log()
    first, again = liang_split(log, preprocessing(seed=3)), liang_split(log, preprocessing(seed=3))
    other = liang_split(log, preprocessing(seed=4))
    pd.testing.assert_frame_equal(first.user_map, again.user_map)
    for name in ("train", "validation_fold_in", "validation_target", "test_fold_in"):
        assert_same_matrix(getattr(first, name), getattr(again, name))
    assert first.user_map["user"].tolist() != other.user_map["user"].tolist()


def test_fraction_of_users_held_out() -> None:
    log = synthetic_log()
    n_users = liang_split(log, preprocessing()).user_map.shape[0]
    split = liang_split(log, preprocessing(n_heldout_users=0.25))
    counts = split.user_map["split"].value_counts()
    assert counts["validation"] == counts["test"] == int(0.25 * n_users)


def test_split_summary_is_json_and_adds_up() -> None:
    split = liang_split(synthetic_log(), preprocessing(n_heldout_users=10))
    summary = json.loads(json.dumps(split_summary(split)))
    parts = [summary[name] for name in ("train", *HELDOUT_SPLITS)]
    assert summary["total"]["users"] == sum(part["users"] for part in parts) == len(split.user_map)
    assert summary["total"]["items"] == len(split.item_map) == summary["train"]["items"]
    assert summary["validation"]["target_interactions"] == split.validation_target.nnz
    assert summary["total"]["interactions"] == sum(part["interactions"] for part in parts)
    assert 0.0 < summary["total"]["sparsity"] < 1.0


ML100K_DEFAULT_COUNTS = {
    "train": {"users": 752, "interactions": 44415},
    "validation": {"users": 93, "fold_in_interactions": 4529, "target_interactions": 1085},
    "test": {"users": 93, "fold_in_interactions": 4272, "target_interactions": 1024},
    "total": {"users": 938, "items": 1417, "interactions": 55325},
}


def test_ml100k_default_split_counts_and_reference(ml100k_interactions: pd.DataFrame) -> None:
    log = ml100k_interactions
    split = liang_split(log, preprocessing())
    summary = split_summary(split)
    counts = {
        name: {key: summary[name][key] for key in expected}
        for name, expected in ML100K_DEFAULT_COUNTS.items()
    }
    assert counts == ML100K_DEFAULT_COUNTS
    assert_matches_reference(split, notebook_reference(log, n_heldout=93))


def bad_input_cases() -> dict:
    log = synthetic_log()
    return {
        "missing item column": (log.drop(columns="item"), {}, "lack column"),
        "too few users": (log, {"n_heldout_users": 500}, "users remain after filtering"),
        "threshold too high": (log, {"rating_threshold": 5.0}, "no interaction has rating > 5.0"),
        "filters too strict": (log, {"min_user_count": 1000}, "min_user_count=1000"),
        "empty": (log.iloc[:0], {"rating_threshold": None}, "empty"),
        "missing id": (
            log.assign(user=log["user"].astype(float).where(log.index > 0)),
            {},
            "missing user id",
        ),
        "duplicates": (pd.concat([log, log.iloc[:5]]), {"rating_threshold": None}, "Deduplicate"),
    }


@pytest.mark.parametrize(
    ("log", "params", "message"), bad_input_cases().values(), ids=bad_input_cases().keys()
)
def test_bad_input_raises_data_error(log: pd.DataFrame, params: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        liang_split(log, preprocessing(**params))


SETTINGS_OUT_OF_RANGE = {
    "heldout fraction too large": {"n_heldout_users": 0.5},
    "heldout fraction zero": {"n_heldout_users": 0.0},
    "heldout count zero": {"n_heldout_users": 0},
    "target fraction": {"target_fraction": 1.0},
}


@pytest.mark.parametrize(
    "overrides", SETTINGS_OUT_OF_RANGE.values(), ids=SETTINGS_OUT_OF_RANGE.keys()
)
def test_settings_that_hold_out_no_one_or_everyone_are_refused(overrides: dict) -> None:
    with pytest.raises(ValidationError, match=next(iter(overrides))):
        preprocessing(**overrides)


def test_too_few_users_message_gives_counts() -> None:
    log = synthetic_log()
    n_users = len(liang_split(log, preprocessing()).user_map)
    with pytest.raises(DataError) as error:
        liang_split(log, preprocessing(n_heldout_users=500))
    assert f"{n_users} users remain" in str(error.value)
    assert "n_heldout_users=500" in str(error.value)


def test_benchmark_runs_at_tiny_size() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    command = [sys.executable, "-m", "vaeops.tools.speed_preprocessing"]
    command += ["--rows", "20000", "--users", "500", "--items", "300"]
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, check=True, timeout=120
    )
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    expected_keys = {
        "rows",
        "users",
        "items",
        "seed",
        "heldout_users",
        "generate_seconds",
        "split_seconds",
        "process_peak_rss_mb",
        "process_peak_rss_after_generation_mb",
        "split_start_rss_mb",
        "split_peak_rss_mb",
        "split_rss_delta_mb",
        "split",
    }
    assert set(result) == expected_keys
    assert 0 < result["rows"] <= 20_000
    assert result["split"]["validation"]["users"] == result["heldout_users"] == 50


def test_given_split_keeps_the_published_parts_on_shared_rows_and_columns() -> None:
    train = pd.DataFrame({"user": [10, 10, 30], "item": [5, 7, 5]})
    test = pd.DataFrame({"user": [10, 20], "item": [9, 7]})
    split = given_split(train, test)

    assert split.user_map["user"].tolist() == [10, 20, 30]
    assert split.item_map["item"].tolist() == [5, 7, 9]
    assert split.train.toarray().tolist() == [[1, 1, 0], [0, 0, 0], [1, 0, 0]]
    assert split.test_target.toarray().tolist() == [[0, 0, 1], [0, 1, 0], [0, 0, 0]]


def test_given_split_refuses_a_test_item_that_is_also_a_train_item() -> None:
    train = pd.DataFrame({"user": [1, 1], "item": [5, 7]})
    test = pd.DataFrame({"user": [1], "item": [7]})
    with pytest.raises(DataError, match="1 \\(user, item\\) pair\\(s\\) are in both"):
        given_split(train, test)


def test_given_split_needs_both_parts_with_user_and_item_columns() -> None:
    train = pd.DataFrame({"user": [1], "item": [5]})
    with pytest.raises(DataError, match="both parts"):
        given_split(train, train.iloc[:0])
    with pytest.raises(DataError, match="lack column"):
        given_split(train, train.rename(columns={"item": "movieId"}))
