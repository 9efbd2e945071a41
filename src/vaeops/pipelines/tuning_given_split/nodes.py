from typing import Any

import scipy.sparse as sp

from vaeops.config import merged
from vaeops.jobs.benchmark import autoencoder_training
from vaeops.recommenders.benchmark import given_split_data, given_split_settings, read_given_split

# Entries of tuning_given_split.tuning that replace params:tuning's rather than merge
# into it: a search space merged key by key could only grow.
_REPLACED_TUNING_KEYS = ("search_space", "contour_params")


def carve_for_tuning(given: dict) -> dict[str, sp.csr_matrix]:
    """The five matrices the tuning nodes read, from the benchmark's own carve: the study
    chooses on the carved validation users; the test part is ranked once, at the end,
    with every user's train items as the fold-in. Nothing is refitted."""
    split = read_given_split(given["dataset"])
    data = given_split_data(split.train, split.test_target, given["validation"], refit=False)
    return {
        "train_matrix": data.train,
        "validation_fold_in": data.validation_fold_in,
        "validation_target": data.validation_target,
        "test_fold_in": data.test_fold_in,
        "test_target": data.test_target,
    }


def given_split_tuning_settings(
    benchmark: dict, given: dict, training: dict, tuning: dict, own: dict
) -> dict[str, Any]:
    """The study's default trial is the autoencoder exactly as benchmark_given_split
    trains it (with ``own.training`` over it), so the tuned block is compared with what
    the benchmark reports."""
    settings = given_split_settings(benchmark, given)
    name = own["autoencoder"]
    if name not in settings["autoencoders"]:
        raise ValueError(
            f"tuning_given_split.autoencoder is {name!r}; it must name one of "
            f"benchmark.autoencoders: {', '.join(settings['autoencoders'])}."
        )
    kept = {key: value for key, value in own["tuning"].items() if key not in _REPLACED_TUNING_KEYS}
    replaced = {key: own["tuning"][key] for key in _REPLACED_TUNING_KEYS if key in own["tuning"]}
    return {
        "training": merged(autoencoder_training(name, settings, training), own["training"] or {}),
        "tuning": {**merged(tuning, kept), **replaced},
        "evaluation": settings["evaluation"],
    }
