"""Bayesian comparison of two recommenders evaluated on the same users.

A difference in mean NDCG between two models is only news if it is unlikely to
be noise from which users happened to be in the test set, and only useful if it
is larger than a difference that matters in practice. ``compare_paired``
answers both at once: the posterior probabilities that A is better, that the
two are practically equivalent (the mean difference lies inside the region of
practical equivalence, the ROPE), and that B is better. Pairing by user removes
the between-user spread that both models share.

The posterior comes from the Bayesian bootstrap (Rubin 1981): the test users are
a sample from a population that puts Dirichlet(1, ..., 1) weights on them, so
each draw of weights gives one draw of the population's mean difference. It
assumes nothing about the shape of per-user metrics, which are bounded, skewed
and often zero-inflated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaeops.errors import DataError

# Weight draws are made in chunks of at most this many elements (64 MiB of
# float64), so that memory stays flat for large test sets and many draws.
_CHUNK_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class ComparisonResult:
    """Posterior probabilities for the mean per-user difference A - B; they sum to 1."""

    p_a_better: float
    p_rope: float
    p_b_better: float
    mean_difference: float
    rope: float
    n_users: int
    method: str


def paired_scores(a, b, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Two aligned 1-D score arrays, one score per ``unit`` (user, split), as float64.

    Both Bayesian comparisons pair scores unit by unit, so misaligned, too short
    or undefined scores would silently give a meaningless posterior.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise DataError(
            f"the scores must be 1-D arrays of one score per {unit}, aligned {unit} by {unit} "
            f"(the same {unit}s in the same order); got shapes {a.shape} and {b.shape}."
        )
    if a.size < 2:
        raise DataError(
            f"a paired comparison needs the scores of at least 2 {unit}s, got {a.size}."
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError(
            f"the scores hold NaN or infinite values; drop {unit}s without a defined score "
            "from both arrays before comparing."
        )
    return a, b


def compare_paired(
    a: np.ndarray,
    b: np.ndarray,
    rope: float,
    n_samples: int,
    seed: int,
) -> ComparisonResult:
    """Posterior probabilities that A beats B, ties with B within ``rope``, or loses.

    ``a[i]`` and ``b[i]`` are the two models' metric for the same user ``i``.
    ``rope`` is the half-width of the region of practical equivalence, in the
    metric's units: ``0.01`` treats NDCG differences under 0.01 as ties.
    """
    a, b = paired_scores(a, b, "user")
    if not rope >= 0:
        raise DataError(f"rope must be a non-negative metric difference, got {rope}.")
    if n_samples < 1:
        raise DataError(f"n_samples must be at least 1, got {n_samples}.")

    differences = a - b
    n_users = differences.size
    rng = np.random.default_rng(seed)
    posterior = np.empty(n_samples)
    chunk = max(1, _CHUNK_ELEMENTS // n_users)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        # Normalised standard exponentials are Dirichlet(1, ..., 1) weights.
        weights = rng.standard_exponential((stop - start, n_users))
        posterior[start:stop] = (weights @ differences) / weights.sum(axis=1)

    return ComparisonResult(
        p_a_better=float(np.mean(posterior > rope)),
        p_rope=float(np.mean(np.abs(posterior) <= rope)),
        p_b_better=float(np.mean(posterior < -rope)),
        mean_difference=float(differences.mean()),
        rope=float(rope),
        n_users=n_users,
        method=(
            f"Bayesian bootstrap (Rubin 1981): {n_samples} draws of Dirichlet(1, ..., 1) "
            f"weights over {n_users} paired users, posterior of the weighted mean of A - B "
            f"against a ROPE of +-{rope}"
        ),
    )
