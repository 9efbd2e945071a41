"""The augmentation arms: how many rows they add and where those rows lie."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.helpers.augmentation_settings import augmentation_settings, changed
from tests.helpers.single_thread import one_torch_thread  # noqa: F401 (fixture)
from tests.unit.augmentation.test_datasets import small_moons
from vaeops.augmentation import arms
from vaeops.augmentation.datasets import Scaler

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = augmentation_settings()
# The shipped settings with short training, so that every arm runs in well under a second.
FAST_ARM_SETTINGS = {
    "none": SHIPPED.arms.none.settings,
    "noise": SHIPPED.arms.noise.settings,
    "smote": SHIPPED.arms.smote.settings,
    "cvae": changed(SHIPPED.arms.cvae.settings, epochs=20),
}


def test_every_arm_tops_each_class_up_to_the_same_count():
    labels = np.array([0] * 6 + [1] * 3)
    assert arms.synthetic_counts(labels, 2, ratio=1.0).tolist() == [6, 9]  # both classes end at 12
    # an absent class stays absent
    assert arms.synthetic_counts(labels, 3, ratio=0.5).tolist() == [3, 6, 0]
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (6, 2)), rng.normal(2, 1, (3, 2))])
    for arm in ("noise", "smote", "cvae"):
        [(augmented_x, augmented_y)] = arms.augment(
            arm, [x], [labels], 2, FAST_ARM_SETTINGS[arm], [0], "standardize"
        )
        np.testing.assert_array_equal(augmented_x[:9], x)  # the real rows come first, untouched
        assert np.bincount(augmented_y).tolist() == [12, 12], arm


def test_noise_stays_near_its_sources_and_smote_between_two_rows_of_a_class():
    labels = np.array([0] * 6 + [1] * 3)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (6, 2)), rng.normal(2, 1, (3, 2))])
    noisy, _ = arms.noise_rows(x, labels, 2, FAST_ARM_SETTINGS["noise"], seed=0)
    assert np.linalg.norm(noisy[:, None, :] - x[None], axis=2).min(axis=1).max() < 1.0
    smoted, smoted_y = arms.smote_rows(x, labels, 2, FAST_ARM_SETTINGS["smote"], seed=0)
    assert len(smoted) == 15
    for row, label in zip(smoted, smoted_y, strict=True):
        own = x[labels == label]
        to_row = np.linalg.norm(own - row, axis=1)
        between = np.linalg.norm(own[:, None] - own[None], axis=2)
        assert np.isclose(to_row[:, None] + to_row[None], between, atol=1e-9).any()


def test_augmenting_several_training_sets_equals_augmenting_each_alone():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(8, 3)), rng.normal(size=(10, 3))]
    labels = [np.array([0] * 4 + [1] * 4), np.array([0] * 7 + [1] * 3)]
    for arm in ("noise", "smote"):
        together = arms.augment(arm, xs, labels, 2, FAST_ARM_SETTINGS[arm], [3, 4], "standardize")
        for k in range(2):
            [alone] = arms.augment(
                arm, [xs[k]], [labels[k]], 2, FAST_ARM_SETTINGS[arm], [3 + k], "standardize"
            )
            np.testing.assert_array_equal(together[k][0], alone[0])
            np.testing.assert_array_equal(together[k][1], alone[1])


def test_the_confidence_filter_keeps_only_believable_rows():
    moons = small_moons()
    x = Scaler.fit(moons.x, "standardize").transform(moons.x)
    settings = changed(FAST_ARM_SETTINGS["cvae"], epochs=60, min_confidence=0.9)
    [(synthetic_x, synthetic_y)] = arms.cvae_rows([x], [moons.y], 2, settings, [0], "gaussian")
    judge = LogisticRegression(C=arms.JUDGE_C, max_iter=arms.JUDGE_MAX_ITER).fit(x, moons.y)
    confidence = judge.predict_proba(synthetic_x)[np.arange(len(synthetic_y)), synthetic_y]
    assert len(synthetic_y) > 0 and confidence.min() >= 0.9
