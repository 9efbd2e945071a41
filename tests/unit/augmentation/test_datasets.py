"""Splits and regimes of the augmentation study: the tuning partition, the test folds and
the training rows a regime keeps never overlap where they must not."""

import numpy as np
import pytest

from tests.helpers.augmentation_settings import augmentation_settings
from vaeops.augmentation.datasets import LabelledData, Regime, load_dataset, plan_splits, subsample
from vaeops.augmentation.settings import (
    AugmentationDatasetParameters,
    ProtocolParameters,
    RegimeParameters,
)
from vaeops.errors import DataError


def regime(name: str, **settings) -> Regime:
    return Regime(name, RegimeParameters.model_validate(settings))


def small_moons() -> LabelledData:
    """300 rows of two interleaved half-moons, 150 per class."""
    shipped = augmentation_settings().datasets["moons"]
    return load_dataset(
        "moons",
        AugmentationDatasetParameters.model_validate(
            {**shipped.model_dump(exclude_unset=True), "n_samples": 300}
        ),
    )


def test_tuning_partition_folds_and_regimes_never_overlap():
    moons = small_moons()
    plan = plan_splits(moons.y, ProtocolParameters(repeats=3, folds=5, tuning_fraction=0.2, seed=1))
    assert len(plan.splits) == 15
    assert not np.intersect1d(plan.tuning, plan.evaluation).size
    assert np.array_equal(np.union1d(plan.tuning, plan.evaluation), np.arange(len(moons.y)))
    assert np.bincount(moons.y[plan.tuning]).tolist() == [30, 30]  # stratified
    for repeat in range(3):
        tests = [split.test for split in plan.splits if split.repeat == repeat]
        # each row tested once a repeat
        assert np.array_equal(np.sort(np.concatenate(tests)), plan.evaluation)
    eight = regime("8-per-class", per_class=8)
    for split in plan.splits:
        assert not np.intersect1d(split.train, split.test).size
        assert not np.intersect1d(split.train, plan.tuning).size
        rows = subsample(split.train, moons.y, eight, 0, np.random.default_rng(0))
        assert np.isin(rows, split.train).all()
        assert np.bincount(moons.y[rows]).tolist() == [8, 8]


def test_regimes_cut_the_training_fold_as_configured():
    moons = small_moons()
    rows = np.arange(len(moons.y))
    rng = np.random.default_rng(0)
    half = subsample(rows, moons.y, regime("half", fraction=0.5), 0, rng)
    assert np.bincount(moons.y[half]).tolist() == [75, 75]
    imbalanced = regime("imbalanced", fraction=1.0, minority_ratio=0.1, mlp={"loss": "focal"})
    kept = subsample(rows, moons.y, imbalanced, 1, rng)
    assert np.bincount(moons.y[kept]).tolist() == [150, 15]  # class 1 is the minority here
    with pytest.raises(DataError, match="needs 200 rows of class 0"):
        subsample(rows, moons.y, regime("big", per_class=200), 0, rng)


def test_class_counts_name_every_class_even_an_absent_one():
    data = LabelledData(
        name="toy",
        x=np.zeros((3, 1)),
        y=np.array([0, 0, 2]),
        class_names=["a", "b", "c"],
        scaling="standardize",
    )
    assert data.class_counts == {"a": 2, "b": 0, "c": 1}
