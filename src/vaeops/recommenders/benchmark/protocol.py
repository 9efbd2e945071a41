"""The matrices of a benchmark and how its validation users came about.

Every choice a benchmark makes (a baseline's setting from a grid of values, the
epoch an autoencoder keeps) is made on validation users; the test users are
scored once, after all choices. ``protocol`` says how, for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp

EVERY_CHOICE = "Every choice (a baseline's setting from its grid, the epoch an autoencoder keeps)"


@dataclass(frozen=True)
class BenchmarkData:
    """The matrices of one benchmark, and how its validation users came about.

    Models learn from ``train`` while every choice is made on the validation users;
    with ``refit_train`` the chosen models are fitted again on it before the test
    users are scored. ``protocol`` describes this for the report.
    """

    train: sp.csr_matrix
    validation_fold_in: sp.csr_matrix
    validation_target: sp.csr_matrix
    test_fold_in: sp.csr_matrix
    test_target: sp.csr_matrix
    protocol: dict[str, Any]
    refit_train: sp.csr_matrix | None = None


def held_out_data(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
) -> BenchmarkData:
    """The Liang split: validation and test users are users apart from the training users."""
    n_users = int((validation_target.getnnz(axis=1) > 0).sum())
    protocol = {
        "validation": "held-out users",
        "validation_users": n_users,
        "refit": False,
        "description": (
            f"{EVERY_CHOICE} was made on the split's {n_users:,} held-out validation users; "
            "the test users were scored once, after all choices."
        ),
    }
    return BenchmarkData(
        train, validation_fold_in, validation_target, test_fold_in, test_target, protocol
    )
