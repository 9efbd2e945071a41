"""Recommendations by original item ids: fold-in for any history, popularity for none."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.helpers.settings import (
    evaluation_block,
    model_settings,
    serving_block,
    training_settings,
)
from vaeops.errors import DataError
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import build_model, saved_config
from vaeops.recommenders.serving import (
    EMPTY_HISTORY,
    NO_KNOWN_ITEM,
    WHOLE_CATALOGUE,
    Recommender,
    Request,
    ranking_quality,
)
from vaeops.recommenders.training import train_autoencoder

# Two communities of 10 items each; ids are deliberately not column numbers.
COMMUNITY_A = [100 + i for i in range(10)]
COMMUNITY_B = [200 + i for i in range(10)]
ITEM_IDS = COMMUNITY_A + COMMUNITY_B


def community_clicks(n_users: int, seed: int) -> sp.csr_matrix:
    """Each user clicks 6 random items of one community (alternating A, B)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_users), 6)
    columns = np.concatenate(
        [rng.choice(10, 6, replace=False) + 10 * (user % 2) for user in range(n_users)]
    )
    return sp.csr_matrix((np.ones(rows.size, np.float32), (rows, columns)), shape=(n_users, 20))


def split_rows(clicks: sp.csr_matrix, n_fold_in: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The first ``n_fold_in`` items of each row as fold-in, the rest as targets."""
    fold_in, target = clicks.tolil(copy=True), clicks.tolil(copy=True)
    for row in range(clicks.shape[0]):
        for column in clicks[row].indices[n_fold_in:]:
            fold_in[row, column] = 0
        for column in clicks[row].indices[:n_fold_in]:
            target[row, column] = 0
    return fold_in.tocsr(), target.tocsr()


@pytest.fixture(scope="module")
def trained_recommender() -> Recommender:
    train = community_clicks(200, seed=0)
    fold_in, target = split_rows(community_clicks(20, seed=1), n_fold_in=4)
    result = train_autoencoder(
        training_settings(
            {"hidden_dims": [16], "latent_dim": 4},
            epochs=12,
            batch_size=50,
            learning_rate=0.01,
            total_anneal_steps=100,
            validation_k=10,
            device="cpu",
            seed=3,
        ),
        train,
        fold_in,
        target,
    )
    popularity = np.asarray(train.sum(axis=0)).ravel()
    return Recommender(result.model, ITEM_IDS, popularity, **serving_block(default_k=5, max_k=20))


def untrained_recommender(popularity=None, item_ids=ITEM_IDS, **settings) -> Recommender:
    torch.manual_seed(0)
    model = build_model(model_settings(hidden_dims=[8], latent_dim=2), len(item_ids))
    popularity = np.arange(len(item_ids), dtype=float) if popularity is None else popularity
    return Recommender(model, item_ids, popularity, **serving_block(**settings))


def test_a_new_users_history_is_folded_in_to_recommend_from_its_community(trained_recommender):
    # Histories that no training user had, in original ids.
    answer_a, answer_b = trained_recommender.recommend(
        [Request([100, 103, 107]), Request([201, 204])]
    )
    assert not answer_a.fallback and not answer_b.fallback
    assert answer_a.reason is None and answer_b.reason is None
    assert len(answer_a.items) == 5  # default_k
    assert set(answer_a.items) <= set(COMMUNITY_A) - {100, 103, 107}
    assert set(answer_b.items) <= set(COMMUNITY_B) - {201, 204}
    assert answer_a.scores == sorted(answer_a.scores, reverse=True)


def test_saved_weights_serve_what_the_trained_model_serves(trained_recommender):
    model = trained_recommender.model
    popularity = np.arange(20, dtype=float)
    restored = Recommender.from_weights(
        model.state_dict(),
        saved_config(model),
        ITEM_IDS,
        popularity,
        **serving_block(default_k=5, max_k=20),
    )
    requests = [Request([100, 103, 107]), Request([201, 204], k=8)]
    for served, original in zip(
        restored.recommend(requests), trained_recommender.recommend(requests), strict=True
    ):
        assert served.items == original.items
        assert served.scores == pytest.approx(original.scores)


def test_scores_are_the_decoders_probabilities_over_all_items(trained_recommender):
    (answer,) = trained_recommender.recommend([Request([100, 101], k=20, exclude_seen=False)])
    assert sorted(answer.items) == sorted(ITEM_IDS)
    assert sum(answer.scores) == pytest.approx(1.0, abs=1e-5)


def test_unknown_items_are_counted_and_ignored(trained_recommender):
    known, with_unknown = trained_recommender.recommend(
        [Request([100, 103]), Request([100, "not-an-item", 103, 99999, 100])]
    )
    assert with_unknown.n_unknown_items == 2
    assert known.n_unknown_items == 0
    # A repeated item counts once, like a click in the binary training matrix.
    assert with_unknown.items == known.items
    assert with_unknown.scores == pytest.approx(known.scores)


def test_an_empty_or_all_unknown_history_gets_flagged_popularity():
    recommender = untrained_recommender(popularity=np.array([5.0, 1.0, 0.0, 4.0] + [0.0] * 16))
    empty, unknown = recommender.recommend([Request([], k=3), Request([7, 8], k=2)])
    assert empty.fallback and unknown.fallback
    assert (empty.reason, unknown.reason) == (EMPTY_HISTORY, NO_KNOWN_ITEM)
    assert empty.items == [100, 103, 101]
    assert empty.scores == pytest.approx([0.5, 0.4, 0.1])  # shares of the 10 training clicks
    assert unknown.items == [100, 103] and unknown.n_unknown_items == 2


def test_exclude_seen_decides_whether_history_items_come_back():
    recommender = untrained_recommender()
    excluded, included = recommender.recommend(
        [Request([100, 101, 102], k=20), Request([100, 101, 102], k=20, exclude_seen=False)]
    )
    assert len(excluded.items) == 17 and not {100, 101, 102} & set(excluded.items)
    assert excluded.reason == "the history leaves 17 of the catalogue's items to recommend"
    assert len(included.items) == 20 and included.reason is None


def test_a_history_of_the_whole_catalogue_gets_no_items_and_says_why():
    recommender = untrained_recommender()
    everything, all_but_one, small_catalogue = recommender.recommend(
        [Request(ITEM_IDS), Request(ITEM_IDS[1:]), Request([100], k=50, exclude_seen=False)]
    )
    assert everything.items == [] and everything.scores == []
    assert not everything.fallback and everything.reason == WHOLE_CATALOGUE
    assert all_but_one.items == [100]
    assert all_but_one.reason == "the history leaves 1 of the catalogue's items to recommend"
    assert len(small_catalogue.items) == 20
    assert small_catalogue.reason == "k exceeds the catalogue's 20 items"


def test_oversized_requests_are_refused_with_the_limit():
    recommender = untrained_recommender(max_histories=3, max_history_length=4)
    assert len(recommender.recommend([Request([100, 101, 102, 103])] * 3)) == 3  # at the limits
    with pytest.raises(DataError, match="holds 4 histories; at most 3 are answered per request"):
        recommender.recommend([Request([100])] * 4)
    with pytest.raises(DataError, match="request 1: the history holds 5 items; at most 4"):
        recommender.recommend([Request([100]), Request([100, 101, 102, 103, 104])])


def test_string_item_ids_work_as_given():
    ids = [f"sku-{i}" for i in range(20)]
    recommender = untrained_recommender(item_ids=ids)
    (answer,) = recommender.recommend([Request(["sku-3", "sku-4", "sku-404"], k=4)])
    assert answer.n_unknown_items == 1 and len(answer.items) == 4
    assert set(answer.items) <= set(ids) - {"sku-3", "sku-4"}


@pytest.mark.parametrize("k", [0, 21, -1, 2.5, True, "10"])
def test_k_outside_the_bounds_is_refused_with_the_limits(k):
    recommender = untrained_recommender(default_k=10, max_k=20)
    with pytest.raises(DataError, match=r"request 1: k=.* must be an integer from 1 to 20"):
        recommender.recommend([Request([100]), Request([100], k=k)])


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request("100,101"), "history must be a list of item ids"),
        (Request(100), "history must be a list of item ids"),
        (Request([100], exclude_seen="no"), "exclude_seen='no' is invalid"),
    ],
)
def test_malformed_requests_are_refused_with_what_to_send(request_, message):
    with pytest.raises(DataError, match=message):
        untrained_recommender().recommend([request_])


def test_the_model_and_its_item_ids_must_agree():
    with pytest.raises(DataError, match="20 item columns but got 3 item ids"):
        untrained_recommender().__class__(
            build_model(model_settings("multvae"), 20), [1, 2, 3], np.ones(3), **serving_block()
        )


def test_ranking_quality_by_original_ids_equals_the_papers_evaluation(trained_recommender):
    fold_in, target = split_rows(community_clicks(30, seed=5), n_fold_in=3)
    ids = np.array(ITEM_IDS)
    per_user = ranking_quality(
        trained_recommender,
        [ids[fold_in[i].indices] for i in range(30)],
        [ids[target[i].indices] for i in range(30)],
        ks=(5, 10),
    )
    reference = evaluate(
        trained_recommender.model.score,
        fold_in,
        target,
        ks=(5, 10),
        batch_size=evaluation_block()["batch_size"],
    )
    assert reference.per_user["ndcg_at_5"].mean() > 0.5  # a model worth comparing
    for name in ("ndcg_at_5", "recall_at_10"):
        np.testing.assert_allclose(per_user[name], reference.per_user[name], atol=1e-6)


def test_ranking_quality_gives_no_credit_for_targets_the_model_cannot_know():
    # Every fold-in item is unknown, so the ranking is popularity: 100, 101, 102, ...
    recommender = untrained_recommender(popularity=np.arange(20, 0, -1, dtype=float))
    per_user = ranking_quality(
        recommender, [["new-item"]], [[101, "item-after-training"]], ks=(100,)
    )
    ideal = 1.0 + 1.0 / math.log2(3)
    assert per_user["ndcg_at_100"][0] == pytest.approx((1.0 / math.log2(3)) / ideal)
    assert per_user["recall_at_100"][0] == pytest.approx(0.5)


def test_recvae_serves_new_users_by_fold_in_from_its_saved_weights():
    train = community_clicks(200, seed=0)
    fold_in, target = split_rows(community_clicks(20, seed=1), n_fold_in=4)
    result = train_autoencoder(
        training_settings(
            {"kind": "recvae", "hidden_dims": [16], "latent_dim": 4},
            epochs=8,
            batch_size=50,
            learning_rate=0.01,
            validation_k=10,
            device="cpu",
        ),
        train,
        fold_in,
        target,
    )
    popularity = np.asarray(train.sum(axis=0)).ravel()
    served = Recommender.from_weights(
        result.model.state_dict(),
        saved_config(result.model),
        ITEM_IDS,
        popularity,
        **serving_block(default_k=5),
    )
    a_user, b_user = served.recommend([Request([100, 101, 102]), Request([200, 201, 202])])
    # A new user's own community comes first, as a history of three clicks tells.
    assert set(a_user.items) <= set(COMMUNITY_A) - {100, 101, 102}
    assert set(b_user.items) <= set(COMMUNITY_B) - {200, 201, 202}
