"""A split that ships only train and test parts (LightGCN's): its validation users are
carved out of the train part."""

from __future__ import annotations

import scipy.sparse as sp

from vaeops.data.settings import CarvedValidationParameters
from vaeops.data.splits import carve_validation
from vaeops.recommenders.benchmark.protocol import EVERY_CHOICE as _EVERY_CHOICE
from vaeops.recommenders.benchmark.protocol import BenchmarkData


def given_split_data(
    train: sp.csr_matrix,
    test_target: sp.csr_matrix,
    validation: CarvedValidationParameters,
    refit: bool,
) -> BenchmarkData:
    """A split that ships train and test parts: the validation users are carved out of
    the train part (``validation`` holds carve_validation's share, seed and max_users),
    and every user's train items are their fold-in when the test items are ranked.

    With ``refit`` the chosen models are fitted again on all train items; carving keeps
    every user's row, so an epoch of the refit has as many updates as one of the run
    that chose it.
    """
    carved = carve_validation(train, validation)
    n_users = int(carved.rows.size)
    drawn = (
        f"at most {validation.max_users:,} users drawn at random"
        if validation.max_users
        else "every user with two or more train items"
    )
    refitting = (
        "Refit: yes. The chosen models were then fitted again on all train items (each "
        "autoencoder for its kept number of epochs)."
        if refit
        else "Refit: no. The models learnt from the train part less the validation targets."
    )
    protocol = {
        "validation": "carved from the train part",
        "validation_users": n_users,
        **validation.model_dump(),
        "refit": refit,
        "description": (
            f"{_EVERY_CHOICE} was made on {n_users:,} validation users carved from the train "
            f"part ({drawn}, seed {validation.seed}): a share {validation.share} of "
            "each one's train items became their validation targets, the rest their "
            f"fold-in. {refitting} The test part played no role in any choice; it was "
            "scored once, at the end, with every user's train items as their fold-in."
        ),
    }
    return BenchmarkData(
        train=carved.train,
        validation_fold_in=carved.fold_in,
        validation_target=carved.target,
        test_fold_in=train,
        test_target=test_target,
        protocol=protocol,
        refit_train=train if refit else None,
    )
