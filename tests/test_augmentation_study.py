"""The study's configuration: a bad selection fails before any training, and a regime
changes only what it says it changes."""

import copy

import numpy as np
import pytest

from tests.test_augmentation_arms import FAST_ARM_SETTINGS
from vaeops.augmentation.datasets import LabelledData
from vaeops.augmentation.study import (
    check_selection,
    experiment_for,
    imbalanced_regimes,
    minority_relevant,
)

STUDY = {
    "selected_datasets": ["toy"],
    "datasets": {"toy": {"regimes": ["5-per-class", "imbalanced"]}},
    "regimes": {
        "5-per-class": {"per_class": 5},
        "imbalanced": {"fraction": 1.0, "minority_ratio": 0.1, "mlp": {"loss": "focal"}},
        "unused": {"fraction": 0.5, "minority_ratio": 0.2},
    },
    "selected_arms": ["none", "noise"],
    "arms": {arm: {"settings": FAST_ARM_SETTINGS[arm]} for arm in ("none", "noise")},
    "selected_classifiers": ["mlp", "logistic_regression"],
    "classifiers": {
        "mlp": {"epochs": 10, "loss": "cross_entropy"},
        "logistic_regression": {"C": 1.0, "max_iter": 100},
    },
    "protocol": {"seed": 3},
}


def toy(minority_named: bool) -> LabelledData:
    return LabelledData(
        name="toy",
        x=np.zeros((4, 2)),
        y=np.array([0, 0, 1, 1]),
        class_names=["a", "b"],
        scaling="standardize",
        minority_named=minority_named,
    )


def changed(path: str, value) -> dict:
    study = copy.deepcopy(STUDY)
    *parents, last = path.split(".")
    node = study
    for key in parents:
        node = node[key]
    node[last] = value
    return study


def test_a_valid_selection_passes():
    check_selection(STUDY)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("selected_datasets", ["toy", "iris"], r"names \['iris'\], which augmentation.datasets"),
        ("selected_arms", ["noise"], "must include 'none'"),
        ("selected_arms", ["none", "smote"], "names 'smote', which augmentation.arms"),
        ("arms.noise.settings", {"ratio": 1.0}, "must give exactly"),
        ("selected_classifiers", ["svm"], "names 'svm'; choose from"),
        ("datasets.toy.regimes", ["5-per-class", "tiny"], "Regime 'tiny' is not defined"),
    ],
)
def test_a_bad_selection_fails_before_any_training(path, value, message):
    with pytest.raises(ValueError, match=message):
        check_selection(changed(path, value))


def test_the_regime_overrides_only_the_mlp():
    experiment = experiment_for(toy(False), "imbalanced", STUDY)
    assert experiment.classifiers["mlp"] == {"epochs": 10, "loss": "focal"}
    assert experiment.classifiers["logistic_regression"] == {"C": 1.0, "max_iter": 100}
    assert STUDY["classifiers"]["mlp"]["loss"] == "cross_entropy"
    assert experiment.regime.imbalanced and experiment.seed == 3


def test_minority_recall_matters_for_a_named_class_or_an_imbalanced_regime():
    assert minority_relevant({"toy": toy(False)}, STUDY) == {
        ("toy", "5-per-class"): False,
        ("toy", "imbalanced"): True,
    }
    assert set(minority_relevant({"toy": toy(True)}, STUDY).values()) == {True}
    assert imbalanced_regimes(STUDY) == {"imbalanced", "unused"}
