"""The Bayesian correlated t-test, against hand computation and against baycomp."""

import math

import baycomp
import numpy as np
import pytest
from scipy import stats

from vaeops.statistics.correlated_cv import correlated_t_test, nadeau_bengio_correlation

# Per-split accuracies of a baseline and an arm over 2 repeats x 5 folds.
BASELINE = np.array([0.90, 0.88, 0.91, 0.87, 0.89, 0.92, 0.86, 0.90, 0.88, 0.89])
ARM = np.array([0.91, 0.90, 0.91, 0.89, 0.90, 0.93, 0.88, 0.90, 0.90, 0.91])


def test_posterior_matches_a_hand_computed_student_t():
    differences = ARM - BASELINE  # 0.01 0.02 0 0.02 0.01 0.01 0.02 0 0.02 0.02
    n = 10
    mean = differences.sum() / n
    assert mean == pytest.approx(0.013)
    sample_variance = ((differences - mean) ** 2).sum() / (n - 1)
    rho = 1 / 5  # 5 folds: a test fold is a fifth of the data
    scale = math.sqrt((1 / n + rho / (1 - rho)) * sample_variance)

    result = correlated_t_test(ARM, BASELINE, rope=0.01, correlation=rho)

    assert result.mean_difference == pytest.approx(mean)
    assert result.scale == pytest.approx(scale)
    assert result.dof == n - 1
    assert result.p_worse == pytest.approx(stats.t.cdf((-0.01 - mean) / scale, df=n - 1))
    assert result.p_better == pytest.approx(1 - stats.t.cdf((0.01 - mean) / scale, df=n - 1))
    assert result.p_worse + result.p_rope + result.p_better == pytest.approx(1.0)


@pytest.mark.parametrize("rope", [0.0, 0.005, 0.01, 0.03])
def test_probabilities_match_baycomp_two_on_single(rope):
    # baycomp's x is the first model and its "right" probability is y better than x.
    expected = baycomp.two_on_single(BASELINE, ARM, rope=rope, runs=2)
    result = correlated_t_test(
        ARM, BASELINE, rope=rope, correlation=nadeau_bengio_correlation(4, 1)
    )
    if rope == 0:
        p_left, p_right = expected
        assert (result.p_worse, result.p_better) == pytest.approx((p_left, p_right), abs=1e-12)
    else:
        assert (result.p_worse, result.p_rope, result.p_better) == pytest.approx(
            expected, abs=1e-12
        )


def test_a_clearly_better_arm_is_better_with_certainty():
    rng = np.random.default_rng(0)
    baseline = rng.normal(0.80, 0.02, size=50)
    arm = baseline + rng.normal(0.06, 0.005, size=50)
    result = correlated_t_test(arm, baseline, rope=0.01, correlation=0.2)
    assert result.p_better > 0.999
    swapped = correlated_t_test(baseline, arm, rope=0.01, correlation=0.2)
    assert swapped.p_worse == pytest.approx(result.p_better)


def test_identical_arms_are_practically_equivalent():
    rng = np.random.default_rng(1)
    scores = rng.normal(0.8, 0.03, size=50)
    assert correlated_t_test(scores, scores.copy(), rope=0.01, correlation=0.2).p_rope == 1.0
    # Tiny split-to-split noise, far inside the ROPE, still says "equivalent".
    nearly = scores + rng.normal(0.0, 0.001, size=50)
    assert correlated_t_test(nearly, scores, rope=0.01, correlation=0.2).p_rope > 0.99


def test_the_correlation_correction_widens_the_posterior():
    independent = correlated_t_test(ARM, BASELINE, rope=0.01, correlation=0.0)
    corrected = correlated_t_test(ARM, BASELINE, rope=0.01, correlation=0.2)
    assert corrected.scale > independent.scale
    assert corrected.p_better < independent.p_better


def test_nadeau_bengio_correlation_is_the_test_share():
    assert nadeau_bengio_correlation(n_train=80, n_test=20) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="positive"):
        nadeau_bengio_correlation(0, 10)


@pytest.mark.parametrize(
    ("arm", "baseline", "kwargs", "message"),
    [
        ([0.9, 0.8], [0.9], {}, "aligned"),
        ([0.9], [0.8], {}, "at least 2"),
        ([0.9, np.nan], [0.8, 0.8], {}, "NaN"),
        ([0.9, 0.8], [0.8, 0.8], {"rope": -0.1}, "rope"),
        ([0.9, 0.8], [0.8, 0.8], {"correlation": 1.0}, "correlation"),
    ],
)
def test_bad_input_is_refused(arm, baseline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        correlated_t_test(
            np.array(arm), np.array(baseline), **{"rope": 0.01, "correlation": 0.2, **kwargs}
        )
