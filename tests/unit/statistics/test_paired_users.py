import numpy as np
import pytest
from scipy.stats import norm

from tests.helpers.settings import bootstrap_settings
from vaeops.errors import DataError
from vaeops.statistics import paired_users as comparison
from vaeops.statistics.paired_users import compare_paired


def ndcg_like(rng: np.random.Generator, n_users: int) -> np.ndarray:
    """Per-user metrics shaped like NDCG: bounded, skewed, with many zeros."""
    return np.where(rng.random(n_users) < 0.3, 0.0, rng.beta(2.0, 3.0, n_users))


def test_a_model_that_is_better_for_every_user_is_almost_surely_better():
    rng = np.random.default_rng(0)
    b = ndcg_like(rng, 300)
    result = compare_paired(b + 0.05 + 0.01 * rng.random(300), b, **bootstrap_settings(rope=0.01))
    assert result.p_a_better > 0.999
    assert result.p_b_better == 0.0
    assert result.mean_difference == pytest.approx(0.055, abs=0.002)
    assert result.n_users == 300 and result.rope == 0.01
    assert "Bayesian bootstrap" in result.method and "300 paired users" in result.method


def test_identical_models_are_practically_equivalent():
    a = ndcg_like(np.random.default_rng(1), 200)
    result = compare_paired(a, a.copy(), **bootstrap_settings(rope=0.005))
    assert result.p_rope == 1.0
    assert result.p_a_better == result.p_b_better == 0.0
    assert result.mean_difference == 0.0


def test_swapping_the_models_swaps_the_probabilities_exactly():
    rng = np.random.default_rng(2)
    a, b = ndcg_like(rng, 150), ndcg_like(rng, 150)
    forward = compare_paired(a, b, rope=0.01, n_samples=5000, seed=3)
    backward = compare_paired(b, a, rope=0.01, n_samples=5000, seed=3)
    assert forward.p_a_better == backward.p_b_better
    assert forward.p_b_better == backward.p_a_better
    assert forward.p_rope == backward.p_rope
    assert forward.mean_difference == -backward.mean_difference
    assert forward.p_a_better + forward.p_rope + forward.p_b_better == pytest.approx(1.0)


def test_posterior_spread_matches_the_standard_error_of_the_mean_difference():
    rng = np.random.default_rng(4)
    a = ndcg_like(rng, 500)
    b = a - 0.004 + 0.1 * rng.standard_normal(500)
    differences = a - b
    standard_error = differences.std() / np.sqrt(differences.size)
    result = compare_paired(a, b, **bootstrap_settings(rope=0.0, seed=5))
    assert result.p_a_better == pytest.approx(
        norm.cdf(differences.mean() / standard_error), abs=0.02
    )


def test_p_a_better_is_roughly_uniform_when_both_models_come_from_one_distribution():
    rng = np.random.default_rng(6)
    p_a_better = np.array(
        [
            compare_paired(
                ndcg_like(rng, 100), ndcg_like(rng, 100), rope=0.0, n_samples=2000, seed=seed
            ).p_a_better
            for seed in range(200)
        ]
    )
    # Uniform: mean 0.5 (sd of the mean 0.02) and 5% in each tail (sd 1.5%).
    assert 0.44 < p_a_better.mean() < 0.56
    assert 0.01 <= (p_a_better < 0.05).mean() <= 0.10
    assert 0.01 <= (p_a_better > 0.95).mean() <= 0.10


def test_results_do_not_depend_on_how_draws_are_chunked(monkeypatch):
    rng = np.random.default_rng(7)
    a, b = ndcg_like(rng, 50), ndcg_like(rng, 50)
    whole = compare_paired(a, b, **bootstrap_settings(n_samples=3000, seed=8))
    monkeypatch.setattr(comparison, "_CHUNK_ELEMENTS", 50 * 7)  # 7 draws per chunk
    assert compare_paired(a, b, **bootstrap_settings(n_samples=3000, seed=8)) == whole


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.ones(5), np.ones(4), r"same users.*shapes \(5,\) and \(4,\)"),
        (np.ones((3, 2)), np.ones((3, 2)), "1-D"),
        (np.ones(1), np.ones(1), "at least 2 users, got 1"),
        (np.array([0.1, np.nan, 0.3]), np.ones(3), "NaN or infinite"),
    ],
)
def test_invalid_metric_arrays_are_rejected(a, b, message):
    with pytest.raises(DataError, match=message):
        compare_paired(a, b, **bootstrap_settings())


def test_invalid_rope_and_sample_count_are_rejected():
    with pytest.raises(DataError, match="rope must be a non-negative"):
        compare_paired(np.ones(3), np.zeros(3), **bootstrap_settings(rope=-0.1))
    with pytest.raises(DataError, match="n_samples must be at least 1"):
        compare_paired(np.ones(3), np.zeros(3), **bootstrap_settings(n_samples=0))
