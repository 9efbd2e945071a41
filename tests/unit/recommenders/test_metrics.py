import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.helpers.devices import DEVICES
from tests.helpers.settings import evaluation_block
from vaeops.data.sparse import DeviceCSR
from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.metrics import evaluate, masked_top_k, metric_names, scipy_scorer

BATCH_SIZE = evaluation_block()["batch_size"]


def fixed_scorer(scores: np.ndarray):
    """A scorer that returns preset scores for rows in order, whatever the batch."""
    position = {"start": 0}

    def score(batch):
        start = position["start"]
        position["start"] += batch.n_rows
        return torch.as_tensor(scores[start : start + batch.n_rows])

    return score


def test_ndcg_and_recall_match_hand_computed_values():
    # 1 user, 6 items. Ranking by score: items 5,4,3,2,1,0. Item 5 is fold-in
    # (excluded), so the ranking is 4,3,2,1,0. Targets: items 3 and 0.
    scores = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)
    fold_in = sp.csr_matrix(np.array([[0, 0, 0, 0, 0, 1]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[1, 0, 0, 1, 0, 0]], dtype=np.float32))
    result = evaluate(fixed_scorer(scores), fold_in, target, ks=(2, 5), batch_size=10)
    # top-2 = [4, 3]: one hit at rank 2.
    dcg2 = 1 / math.log2(3)
    idcg2 = 1 / math.log2(2) + 1 / math.log2(3)
    assert result.per_user["ndcg_at_2"][0] == pytest.approx(dcg2 / idcg2, abs=1e-6)
    assert result.per_user["recall_at_2"][0] == pytest.approx(1 / 2)
    # top-5 = [4, 3, 2, 1, 0]: hits at ranks 2 and 5.
    dcg5 = 1 / math.log2(3) + 1 / math.log2(6)
    assert result.per_user["ndcg_at_5"][0] == pytest.approx(dcg5 / idcg2, abs=1e-6)
    assert result.per_user["recall_at_5"][0] == pytest.approx(1.0)


def test_fewer_targets_than_k_uses_truncated_ideal_and_min_denominator():
    # 3 targets, K = 5, all three ranked at positions 1, 2 and 4.
    scores = np.array([[9, 8, 1, 7, 6, 0, 0, 0]], dtype=np.float32)
    target = sp.csr_matrix(np.array([[1, 1, 0, 0, 1, 0, 0, 0]], dtype=np.float32))
    fold_in = sp.csr_matrix((1, 8), dtype=np.float32)
    result = evaluate(fixed_scorer(scores), fold_in, target, ks=(5,), batch_size=BATCH_SIZE)
    discounts = 1 / np.log2(np.arange(2, 7))
    expected = (discounts[0] + discounts[1] + discounts[3]) / discounts[:3].sum()
    assert result.per_user["ndcg_at_5"][0] == pytest.approx(expected, abs=1e-6)
    assert result.per_user["recall_at_5"][0] == pytest.approx(1.0)  # 3 / min(5, 3)


def test_uncapped_recall_divides_by_all_targets_as_lightgcn_does():
    # 4 targets (items 0-3), K = 2, top-2 = items 0 and 5: one hit.
    scores = np.array([[9, 1, 1, 1, 0, 8]], dtype=np.float32)
    target = sp.csr_matrix(np.array([[1, 1, 1, 1, 0, 0]], dtype=np.float32))
    fold_in = sp.csr_matrix((1, 6), dtype=np.float32)
    result = evaluate(fixed_scorer(scores), fold_in, target, ks=(2, 5), batch_size=BATCH_SIZE)
    assert result.per_user["recall_at_2"][0] == pytest.approx(1 / 2)  # 1 / min(2, 4)
    assert result.per_user["uncapped_recall_at_2"][0] == pytest.approx(1 / 4)
    assert set(result.per_user) == metric_names((2, 5))
    # With K >= the number of targets the two definitions agree: 4 hits in the top 5.
    assert result.per_user["recall_at_5"][0] == pytest.approx(1.0)
    assert result.per_user["uncapped_recall_at_5"][0] == pytest.approx(1.0)


def test_users_without_targets_are_left_out_and_counted():
    scores = np.random.default_rng(0).random((3, 5)).astype(np.float32)
    target = sp.csr_matrix(
        np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32)
    )
    result = evaluate(
        fixed_scorer(scores),
        sp.csr_matrix((3, 5), dtype=np.float32),
        target,
        ks=(2,),
        batch_size=BATCH_SIZE,
    )
    assert result.rows.tolist() == [0, 2]
    assert result.n_users_without_targets == 1
    assert result.per_user["ndcg_at_2"].shape == (2,)


def test_batching_does_not_change_metrics():
    rng = np.random.default_rng(1)
    scores = rng.random((37, 50)).astype(np.float32)
    fold_in = sp.random(37, 50, density=0.1, format="csr", random_state=2, dtype=np.float32)
    fold_in.data[:] = 1
    target = sp.random(37, 50, density=0.1, format="csr", random_state=3, dtype=np.float32)
    target.data[:] = 1
    target = target - target.multiply(fold_in)
    target.eliminate_zeros()
    whole = evaluate(fixed_scorer(scores), fold_in, target, ks=(5, 10), batch_size=1000)
    pieces = evaluate(fixed_scorer(scores), fold_in, target, ks=(5, 10), batch_size=4)
    for name in whole.per_user:
        np.testing.assert_allclose(whole.per_user[name], pieces.per_user[name], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_masked_top_k_matches_numpy_reference(device):
    rng = np.random.default_rng(4)
    scores = rng.standard_normal((64, 300)).astype(np.float32)
    exclude = sp.random(64, 300, density=0.05, format="csr", random_state=5, dtype=np.float32)
    exclude.data[:] = 1
    history = DeviceCSR(exclude, device).rows(0, 64)
    top = masked_top_k(torch.as_tensor(scores, device=device), history, k=20).cpu().numpy()
    reference = np.where(exclude.toarray() > 0, -np.inf, scores)
    expected = np.argsort(-reference, axis=1, kind="stable")[:, :20]
    np.testing.assert_array_equal(top, expected)
    assert not np.any(exclude.toarray()[np.arange(64)[:, None], top])


def test_popularity_ranks_by_training_counts():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 1], [1, 1, 0, 0]], dtype=np.float32))
    model = Popularity().fit(train)
    assert model.item_counts_.tolist() == [3, 2, 0, 1]
    fold_in = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[0, 1, 0, 0]], dtype=np.float32))
    result = evaluate(scipy_scorer(model), fold_in, target, ks=(1,), batch_size=BATCH_SIZE)
    # Item 0 is fold-in, so the most popular remaining item (1) is ranked first.
    assert result.per_user["recall_at_1"][0] == 1.0
