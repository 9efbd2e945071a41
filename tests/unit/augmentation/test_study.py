"""The study's experiments: a regime changes only what it says it changes, and minority
recall is reported where it matters. The selection's checks: test_augmentation_settings."""

import numpy as np

from tests.helpers.augmentation_settings import augmentation_parameters, augmentation_settings
from vaeops.augmentation.datasets import LabelledData
from vaeops.augmentation.study import experiment_for, minority_relevant


def study_params() -> dict:
    """The shipped settings, studying a toy data set with an extra, unused regime."""
    params = augmentation_parameters()
    params["selected_datasets"] = ["toy"]
    params["datasets"]["toy"] = {
        "source": "moons",
        "scaling": "standardize",
        "regimes": ["5-per-class", "imbalanced"],
    }
    params["regimes"]["unused"] = {"fraction": 0.5, "minority_ratio": 0.2}
    params["selected_arms"] = ["none", "noise"]
    params["classifiers"]["mlp"].update(epochs=10, loss="cross_entropy")
    params["protocol"]["seed"] = 3
    return params


STUDY = augmentation_settings(study_params())


def toy(minority_named: bool) -> LabelledData:
    return LabelledData(
        name="toy",
        x=np.zeros((4, 2)),
        y=np.array([0, 0, 1, 1]),
        class_names=["a", "b"],
        scaling="standardize",
        minority_named=minority_named,
    )


def test_the_regime_overrides_only_the_mlp():
    experiment = experiment_for(toy(False), "imbalanced", STUDY)
    mlp = experiment.classifiers["mlp"]
    assert mlp.loss == "focal"
    assert mlp.model_dump(exclude={"loss"}) == STUDY.classifiers.mlp.model_dump(exclude={"loss"})
    assert experiment.classifiers["logistic_regression"] == STUDY.classifiers.logistic_regression
    assert STUDY.classifiers.mlp.loss == "cross_entropy"
    plain = experiment_for(toy(False), "5-per-class", STUDY)
    assert plain.classifiers["mlp"] == STUDY.classifiers.mlp
    assert experiment.regime.imbalanced and experiment.seed == 3


def test_minority_recall_matters_for_a_named_class_or_an_imbalanced_regime():
    assert minority_relevant({"toy": toy(False)}, STUDY) == {
        ("toy", "5-per-class"): False,
        ("toy", "imbalanced"): True,
    }
    assert set(minority_relevant({"toy": toy(True)}, STUDY).values()) == {True}
    assert STUDY.imbalanced_regimes() == {"imbalanced", "unused"}
