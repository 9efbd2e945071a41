"""The split protocol: what reaches the scaler and the generators, and that how splits
are grouped into tasks changes no score."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers.augmentation_settings import augmentation_settings, changed
from tests.helpers.single_thread import one_torch_thread  # noqa: F401 (fixture)
from tests.unit.augmentation.test_arms import FAST_ARM_SETTINGS
from tests.unit.augmentation.test_datasets import small_moons
from vaeops.augmentation import arms, protocol
from vaeops.augmentation.datasets import LabelledData, Regime, Scaler, Split, plan_splits

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = augmentation_settings()
FAST_CLASSIFIERS = {
    "mlp": changed(SHIPPED.classifiers.mlp, hidden_dims=[16], epochs=30),
    "logistic_regression": changed(SHIPPED.classifiers.logistic_regression, max_iter=200),
}
TEN_PER_CLASS = Regime("10-per-class", SHIPPED.regimes["10-per-class"])
PROTOCOL = changed(SHIPPED.protocol, repeats=1, seed=0)
SENTINEL = 1.0e6


def experiment_on(data: LabelledData) -> protocol.Experiment:
    return protocol.Experiment(
        data=data, regime=TEN_PER_CLASS, classifiers=FAST_CLASSIFIERS, seed=7
    )


def spy_on_augmenters(monkeypatch) -> list[tuple[str, np.ndarray]]:
    """Record the training rows handed to every augmenter and to the CVAE's fit."""
    seen: list[tuple[str, np.ndarray]] = []

    def spy(name, function):
        def recording(x, *args, **kwargs):
            # One training set, or the list of the splits' sets (here: one split's).
            seen.append((name, np.vstack(x)))
            return function(x, *args, **kwargs)

        return recording

    for name, function in list(arms.AUGMENTERS.items()):
        monkeypatch.setitem(arms.AUGMENTERS, name, spy(name, function))
    monkeypatch.setattr(arms, "cvae_rows", spy("cvae", arms.cvae_rows))
    monkeypatch.setattr(arms, "fit_cvaes", spy("fit_cvaes", arms.fit_cvaes))
    return seen


def test_no_test_row_reaches_a_scaler_or_a_generator(monkeypatch):
    moons = small_moons()
    plan = plan_splits(moons.y, PROTOCOL)
    seen = spy_on_augmenters(monkeypatch)
    for split in plan.splits[:2]:
        # The split's test rows carry a sentinel value; a scaler fitted on them would
        # also shift and shrink the training rows.
        x = moons.x.copy()
        x[split.test] = SENTINEL
        experiment = experiment_on(LabelledData(**{**moons.__dict__, "x": x}))
        seed = protocol.split_seed(experiment.seed, split)
        seen.clear()
        results = protocol.run_splits_together(experiment, [split], FAST_ARM_SETTINGS, [seed])
        assert {name for name, _ in seen} == {"noise", "smote", "cvae", "fit_cvaes"}
        rows = protocol.training_rows(experiment, split, seed)
        assert not np.isin(rows, split.test).any()
        expected = Scaler.fit(moons.x[rows], "standardize").transform(moons.x[rows])
        for name, received in seen:
            assert np.abs(received).max() < 100, f"{name} received a sentinel (test) row"
            np.testing.assert_allclose(
                received, expected, err_msg=f"{name} got other rows than the training rows"
            )
        assert {row["arm"] for row in results} == set(FAST_ARM_SETTINGS)
        assert all(row["n_train"] == 20 and row["n_test"] == len(split.test) for row in results)


def test_splits_score_the_same_whether_trained_side_by_side_or_one_by_one():
    moons = small_moons()
    splits = plan_splits(moons.y, PROTOCOL).splits[:3]
    chosen = {arm: FAST_ARM_SETTINGS[arm] for arm in ("none", "noise")}
    experiment = experiment_on(moons)
    together = protocol.run_splits(experiment, splits, chosen, splits_per_task=3, n_jobs=1)
    alone = protocol.run_splits(experiment, splits, chosen, splits_per_task=1, n_jobs=1)
    order = ["arm", "classifier", "fold"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(together).sort_values(order).reset_index(drop=True),
        pd.DataFrame(alone).sort_values(order).reset_index(drop=True),
    )
    # 3 splits x 2 arms x 2 classifiers
    assert len(together) == 12


def test_every_split_has_its_own_seed_and_tuning_splits_never_share_one():
    splits = [
        Split(repeat, fold, np.arange(0), np.arange(0)) for repeat in (0, 1) for fold in (0, 1)
    ]
    evaluation = [protocol.split_seed(5, split) for split in splits]
    tuning = [protocol.split_seed(5, split, protocol.TUNING_SALT) for split in splits]
    assert len(set(evaluation + tuning)) == 8
    assert evaluation == [protocol.split_seed(5, split) for split in splits]  # reproducible
