"""Bayesian correlated t-test for two learners scored on the same repeated cross-validation.

Scores from repeated k-fold cross-validation are not independent: the training
sets of any two folds overlap, so a plain t-test on the per-split differences is
overconfident. Benavoli et al. (2017, "Time for a change", JMLR 18(77)) put a
Student posterior on the mean difference and inflate its variance with the
Nadeau-Bengio (2003) correction for that overlap,

    mean  = mean of the n per-split differences (arm - baseline),
    scale^2 = (1/n + rho / (1 - rho)) * sample variance of the differences,
    dof   = n - 1,

with rho = n_test / (n_train + n_test), the correlation between the scores of
two splits (1/k for k-fold cross-validation). The region of practical
equivalence (ROPE) turns the posterior into three probabilities: the arm is
worse by more than the ROPE, practically equivalent, or better by more than it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from vaeops.statistics.paired_users import paired_scores


@dataclass(frozen=True)
class CorrelatedTTest:
    """Posterior probabilities for ``mean(arm - baseline)``; the three sum to 1."""

    p_worse: float
    p_rope: float
    p_better: float
    mean_difference: float
    scale: float
    dof: int
    rope: float
    correlation: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def nadeau_bengio_correlation(n_train: int, n_test: int) -> float:
    """rho = n_test / (n_train + n_test): how strongly two splits' scores are correlated."""
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}.")
    return n_test / (n_train + n_test)


def correlated_t_test(
    arm_scores: np.ndarray, baseline_scores: np.ndarray, rope: float, correlation: float
) -> CorrelatedTTest:
    """Compare per-split scores of an arm with its baseline on the same splits, in the same order.

    ``rope`` is a half-width on the score's scale (0.01 = one accuracy point).
    Identical scores on every split (zero variance) give a point posterior at
    their mean difference, as in ``baycomp``.
    """
    arm, baseline = paired_scores(arm_scores, baseline_scores, "split")
    if rope < 0:
        raise ValueError(f"rope is a half-width and must be >= 0, got {rope}.")
    if not 0 <= correlation < 1:
        raise ValueError(
            f"correlation must lie in [0, 1), got {correlation}; see nadeau_bengio_correlation."
        )

    differences = arm - baseline
    n = differences.size
    mean = float(differences.mean())
    variance = float(differences.var(ddof=1)) * (1.0 / n + correlation / (1.0 - correlation))
    scale = float(np.sqrt(variance))
    if scale == 0.0:
        p_worse, p_better = float(mean < -rope), float(mean > rope)
    else:
        posterior = stats.t(df=n - 1, loc=mean, scale=scale)
        p_worse, p_better = float(posterior.cdf(-rope)), float(posterior.sf(rope))
    return CorrelatedTTest(
        p_worse=p_worse,
        p_rope=max(0.0, 1.0 - p_worse - p_better),
        p_better=p_better,
        mean_difference=mean,
        scale=scale,
        dof=n - 1,
        rope=float(rope),
        correlation=float(correlation),
    )
