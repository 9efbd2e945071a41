import logging

import numpy as np
import pytest
import scipy.sparse as sp

from tests.helpers.data_settings import preprocessing
from tests.helpers.settings import baseline_block, evaluation_block
from vaeops.data.splits import liang_split
from vaeops.errors import DataError
from vaeops.recommenders import baselines
from vaeops.recommenders.baselines import (
    EASE,
    ItemKNN,
    MatrixFactorization,
    Popularity,
    ease_memory_bytes,
)
from vaeops.recommenders.metrics import evaluate, scipy_scorer


def random_clicks(n_users: int, n_items: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float32))


def two_communities(
    users_per_community: int, items_per_community: int, density: float, seed: int
) -> sp.csr_matrix:
    """Users of community c click only items of community c."""
    rng = np.random.default_rng(seed)
    block = np.zeros((2 * users_per_community, 2 * items_per_community), dtype=np.float32)
    for community in range(2):
        users = slice(community * users_per_community, (community + 1) * users_per_community)
        items = slice(community * items_per_community, (community + 1) * items_per_community)
        block[users, items] = rng.random((users_per_community, items_per_community)) < density
    return sp.csr_matrix(block)


def test_popularity_scores_each_item_by_its_number_of_clicking_users():
    train = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]], dtype=np.float32))
    scores = Popularity().fit(train).score(sp.csr_matrix((2, 3), dtype=np.float32))
    np.testing.assert_array_equal(scores, [[3, 1, 1], [3, 1, 1]])
    assert scores.dtype == np.float32


def test_ease_matches_a_ridge_regression_of_each_item_on_all_other_items():
    train = random_clicks(30, 8, density=0.4, seed=1)
    l2 = 3.0
    weights = EASE(l2=l2).fit(train).weights_

    dense = train.toarray().astype(np.float64)
    expected = np.zeros((8, 8))
    for item in range(8):
        others = np.delete(np.arange(8), item)
        predictors = dense[:, others]
        expected[others, item] = np.linalg.solve(
            predictors.T @ predictors + l2 * np.eye(7), predictors.T @ dense[:, item]
        )
    np.testing.assert_allclose(weights, expected, atol=1e-5)
    np.testing.assert_array_equal(np.diag(weights), 0.0)


def test_ease_inverts_in_blocks_as_accurately_as_a_direct_float64_inverse(monkeypatch, caplog):
    monkeypatch.setattr(baselines, "_BLOCK_ELEMENTS", 300 * 16)  # 19 pivot blocks of 16 items
    caplog.set_level(logging.INFO, logger=baselines.__name__)
    train = random_clicks(500, 300, density=0.05, seed=15)
    weights = EASE(l2=5.0).fit(train).weights_
    # A long inversion reports its progress by tenths.
    progress = [r.getMessage().split(" after")[0] for r in caplog.records]
    assert progress == [f"EASE inverse: {10 * tenth}% of 300 items" for tenth in range(1, 11)]

    gram = (train.T @ train).toarray().astype(np.float64) + 5.0 * np.eye(300)
    inverse = np.linalg.inv(gram)
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weights, expected, atol=1e-5)


def test_ease_scores_are_fold_in_times_weights():
    train = random_clicks(40, 10, density=0.3, seed=2)
    fold_in = random_clicks(5, 10, density=0.3, seed=3)
    model = EASE(l2=10.0).fit(train)
    scores = model.score(fold_in)
    assert scores.dtype == np.float32 and scores.shape == (5, 10)
    np.testing.assert_allclose(scores, fold_in.toarray() @ model.weights_, rtol=1e-5, atol=1e-6)


def test_ease_refuses_an_infeasible_catalogue_before_allocating_and_shows_the_estimate():
    n_items = 2_000_000  # 16 TB of float32 weights
    train = sp.csr_matrix((np.ones(2, np.float32), ([0, 1], [0, 5])), shape=(2, n_items))
    assert 4 * n_items**2 < ease_memory_bytes(n_items) < 4 * n_items**2 + 2**30
    with pytest.raises(DataError, match=r"16000\.1 GB for 2,000,000 items.*ItemKNN"):
        EASE(l2=200.0).fit(train)


def test_ease_memory_check_uses_the_available_memory(monkeypatch):
    monkeypatch.setattr(baselines, "available_memory_bytes", lambda: 1_000_000)
    with pytest.raises(DataError, match=r"11\.5 MB for 640 items.*only 1\.0 MB is available"):
        EASE(l2=200.0).fit(random_clicks(5, 640, density=0.1, seed=0))


def test_ease_rejects_a_non_positive_l2():
    with pytest.raises(DataError, match="l2 must be positive"):
        EASE(l2=0.0)


def test_item_knn_similarities_are_hand_computed_cosines():
    train = sp.csr_matrix(
        np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1]], dtype=np.float32)
    )
    # Item click counts are 3, 3, 2, 2; co-clicks are (0,1): 2, (1,2): 2, the other pairs 1.
    r6 = np.sqrt(6.0)
    expected = np.array(
        [
            [0, 2 / 3, 1 / r6, 1 / r6],
            [2 / 3, 0, 2 / r6, 1 / r6],
            [1 / r6, 2 / r6, 0, 1 / 2],
            [1 / r6, 1 / r6, 1 / 2, 0],
        ]
    )
    similarities = ItemKNN(k=3, shrink=0.0).fit(train).similarities_.toarray()
    np.testing.assert_allclose(similarities, expected, rtol=1e-6)

    shrunk = ItemKNN(k=3, shrink=1.0).fit(train).similarities_.toarray()
    norms = np.sqrt([3.0, 3.0, 2.0, 2.0])
    co_clicks = expected * np.outer(norms, norms)
    np.testing.assert_allclose(shrunk, co_clicks / (np.outer(norms, norms) + 1.0), rtol=1e-6)

    # The single nearest neighbour of items 0, 1, 2, 3 is item 1, 2, 1, 2.
    nearest = ItemKNN(k=1, shrink=0.0).fit(train).similarities_.toarray()
    np.testing.assert_array_equal(np.argmax(nearest, axis=0), [1, 2, 1, 2])
    assert (nearest > 0).sum() == 4


def test_item_knn_keeps_exactly_the_k_most_similar_other_items_per_item():
    train = random_clicks(60, 12, density=0.5, seed=4)
    full = ItemKNN(k=11, shrink=0.0).fit(train).similarities_.toarray()
    pruned = ItemKNN(k=4, shrink=0.0).fit(train).similarities_.toarray()
    assert np.all(np.diag(full) == 0) and np.all(np.diag(pruned) == 0)
    np.testing.assert_array_equal((pruned > 0).sum(axis=0), 4)
    for item in range(12):
        kept = np.sort(pruned[:, item][pruned[:, item] > 0])
        np.testing.assert_allclose(kept, np.sort(full[:, item])[-4:])


def test_item_knn_gives_the_same_neighbours_when_computed_in_small_blocks(monkeypatch):
    train = random_clicks(50, 30, density=0.2, seed=5)
    whole = ItemKNN(k=5, shrink=2.0).fit(train).similarities_
    monkeypatch.setattr(baselines, "_BLOCK_ELEMENTS", 70)  # two target items per block
    blocked = ItemKNN(k=5, shrink=2.0).fit(train).similarities_
    np.testing.assert_array_equal(blocked.toarray(), whole.toarray())


def test_als_objective_never_rises_over_epochs():
    model = MatrixFactorization(factors=8, epochs=8, reg=0.5, alpha=5.0, seed=1)
    history = model.fit(random_clicks(60, 40, density=0.15, seed=6)).objective_history_
    assert len(history) == 8
    assert all(
        later <= earlier * (1 + 1e-6)
        for earlier, later in zip(history[:-1], history[1:], strict=True)
    )
    assert history[-1] < history[0]


def test_als_fold_in_is_the_closed_form_user_step(monkeypatch):
    monkeypatch.setattr(baselines, "_BLOCK_ELEMENTS", 100)  # several small padded batches
    train = random_clicks(30, 10, density=0.3, seed=7)
    alpha, reg = 4.0, 0.5
    model = MatrixFactorization(factors=3, epochs=3, reg=reg, alpha=alpha, seed=0).fit(train)
    fold_in = np.zeros((4, 10), dtype=np.float32)
    fold_in[0, [1, 4]] = 1.0
    fold_in[1, [0, 2, 3, 7, 9]] = 1.0
    fold_in[2, [5, 6]] = [2.0, 1.0]  # a repeated click gets more confidence
    # Row 3 has no clicks, so its factors and scores are zero.

    item_factors = model.item_factors_.numpy().astype(np.float64)
    expected = np.zeros((4, 10))
    for row, clicks in enumerate(fold_in.astype(np.float64)):
        confidence = np.diag(1.0 + alpha * clicks)
        user = np.linalg.solve(
            item_factors.T @ confidence @ item_factors + reg * np.eye(3),
            item_factors.T @ confidence @ (clicks > 0),
        )
        expected[row] = item_factors @ user
    np.testing.assert_allclose(model.score(sp.csr_matrix(fold_in)), expected, atol=1e-5)


def test_als_is_reproducible_from_its_seed():
    train = random_clicks(40, 20, density=0.2, seed=8)
    fold_in = random_clicks(3, 20, density=0.2, seed=9)

    def scores(seed: int) -> np.ndarray:
        settings = baseline_block("mf", factors=4, epochs=3, seed=seed)
        return MatrixFactorization(**settings).fit(train).score(fold_in)

    first, again, other = scores(3), scores(3), scores(4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_als_ranks_hidden_clicks_of_a_planted_two_block_matrix_above_unclicked_items():
    clicks = two_communities(50, 20, density=0.5, seed=10).toarray()
    rng = np.random.default_rng(11)
    held_out_users = np.arange(0, 100, 5)
    fold_in, hidden = clicks[held_out_users].copy(), np.zeros_like(clicks[held_out_users])
    for row in range(len(held_out_users)):
        clicked = np.flatnonzero(fold_in[row])
        to_hide = rng.choice(clicked, size=len(clicked) // 5, replace=False)
        fold_in[row, to_hide], hidden[row, to_hide] = 0.0, 1.0
    train = sp.csr_matrix(np.delete(clicks, held_out_users, axis=0))

    model = MatrixFactorization(factors=4, epochs=10, reg=1.0, alpha=5.0, seed=0).fit(train)
    scores = model.score(sp.csr_matrix(fold_in))
    aucs = []
    for row in range(len(held_out_users)):
        positives = scores[row, hidden[row] > 0]
        negatives = scores[row, (fold_in[row] == 0) & (hidden[row] == 0)]
        aucs.append((positives[:, None] > negatives[None, :]).mean())
    # Half the unclicked items share the user's block and are indistinguishable
    # from the hidden clicks, so a perfect model scores about 0.8, a random one 0.5.
    assert np.mean(aucs) > 0.75


@pytest.mark.parametrize(
    "model",
    [
        EASE(l2=10.0),
        ItemKNN(k=10, shrink=0.0),
        MatrixFactorization(factors=4, epochs=10, reg=1.0, alpha=5.0, seed=0),
    ],
    ids=["ease", "itemknn", "als"],
)
def test_each_model_recommends_items_of_the_users_own_community_first(model):
    model.fit(two_communities(40, 15, density=0.4, seed=12))
    fold_in = np.zeros((2, 30), dtype=np.float32)
    fold_in[0, [0, 3, 7]] = 1.0  # community 0: items 0-14
    fold_in[1, [16, 20, 29]] = 1.0  # community 1: items 15-29
    scores = model.score(sp.csr_matrix(fold_in))
    scores[fold_in > 0] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :5]
    assert np.all(top[0] < 15) and np.all(top[1] >= 15)


@pytest.mark.parametrize(
    "model",
    [
        Popularity(),
        EASE(l2=200.0),
        ItemKNN(**baseline_block("itemknn", k=100)),
        MatrixFactorization(**baseline_block("mf")),
    ],
)
def test_scoring_rejects_fold_in_with_a_different_item_count(model):
    model.fit(random_clicks(20, 10, density=0.3, seed=13))
    with pytest.raises(
        DataError, match="fold_in has 9 item columns but the model was fitted on 10"
    ):
        model.score(random_clicks(2, 9, density=0.3, seed=14))


def test_fitting_rejects_dense_and_negative_input():
    with pytest.raises(DataError, match="scipy.sparse"):
        EASE(l2=200.0).fit(np.ones((3, 3), dtype=np.float32))
    with pytest.raises(DataError, match="negative, NaN or infinite"):
        ItemKNN(k=100, shrink=0.0).fit(sp.csr_matrix(np.array([[1.0, -1.0]], dtype=np.float32)))


def test_personalised_models_beat_popularity_on_movielens_100k(ml100k_interactions):
    # The data README's calibration split: 100 validation and 100 test users, seed 98765.
    split = liang_split(ml100k_interactions, preprocessing(n_heldout_users=100, seed=98765))
    ndcg = {
        name: evaluate(
            scipy_scorer(model.fit(split.train)),
            split.test_fold_in,
            split.test_target,
            ks=(100,),
            batch_size=evaluation_block()["batch_size"],
        ).summary()["ndcg_at_100"]
        for name, model in {
            "popularity": Popularity(),
            "ease": EASE(l2=200.0),
            "itemknn": ItemKNN(**baseline_block("itemknn", k=100)),
            "als": MatrixFactorization(**baseline_block("mf", factors=32)),
        }.items()
    }
    # The data README calibrates popularity at about 0.24 and EASE at about 0.42 (+-0.02).
    assert 0.2 < ndcg["popularity"] < 0.32
    assert 0.38 < ndcg["ease"] < 0.5
    assert ndcg["ease"] > ndcg["popularity"] + 0.1
    assert ndcg["itemknn"] > ndcg["popularity"] + 0.05
    assert ndcg["als"] > ndcg["popularity"] + 0.05
