"""The MLP classifier and its focal loss."""

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch.nn import functional as F

from tests.helpers.augmentation_settings import augmentation_settings, changed
from tests.helpers.single_thread import one_torch_thread  # noqa: F401 (fixture)
from vaeops.augmentation.classifiers import fit_mlp, fit_mlps, focal_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = augmentation_settings().classifiers.mlp
SMALL = changed(SHIPPED, hidden_dims=[16], epochs=100, learning_rate=1e-2)


def blobs(n_per_class: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((n_classes, 4))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return centres[labels] + 0.5 * rng.standard_normal((len(labels), 4)), labels


def test_focal_loss_matches_its_formula_and_reduces_to_cross_entropy():
    logits = torch.tensor([[2.0, 0.0], [0.5, 1.5]])
    labels = torch.tensor([0, 0])
    p_true = [math.exp(2) / (math.exp(2) + 1), math.exp(0.5) / (math.exp(0.5) + math.exp(1.5))]
    expected = [-((1 - p) ** 2) * math.log(p) for p in p_true]
    torch.testing.assert_close(focal_loss(logits, labels, gamma=2.0), torch.tensor(expected))
    torch.testing.assert_close(
        focal_loss(logits, labels, gamma=0.0), F.cross_entropy(logits, labels, reduction="none")
    )
    # The confidently right row is down-weighted far more than the wrong one.
    ratio = focal_loss(logits, labels, 2.0) / focal_loss(logits, labels, 0.0)
    assert ratio[0] < 0.02 and ratio[1] > 0.5


@pytest.mark.parametrize("loss", ["cross_entropy", "focal"])
def test_the_mlp_learns_separable_classes(loss):
    x, y = blobs(30, 3, seed=0)
    x_test, y_test = blobs(30, 3, seed=0)  # the training points, moved by fresh noise:
    x_test = x_test + 0.3 * np.random.default_rng(9).standard_normal(x_test.shape)
    trained = fit_mlp(x, y, 3, changed(SMALL, loss=loss), seed=0)
    assert (trained.predict(x_test) == y_test).mean() > 0.95
    assert trained.history[-1] < trained.history[0]
    np.testing.assert_allclose(trained.predict_proba(x_test).sum(axis=1), 1.0, rtol=1e-5)


def test_the_seed_fixes_the_result_and_different_seeds_differ():
    x, y = blobs(10, 2, seed=1)
    first, again = fit_mlp(x, y, 2, SMALL, seed=4), fit_mlp(x, y, 2, SMALL, seed=4)
    other = fit_mlp(x, y, 2, SMALL, seed=5)
    np.testing.assert_array_equal(first.predict_proba(x), again.predict_proba(x))
    assert not np.allclose(first.predict_proba(x), other.predict_proba(x))


def test_training_side_by_side_equals_training_alone():
    small, small_y = blobs(4, 3, seed=2)
    large, large_y = blobs(50, 3, seed=3)
    config = changed(SHIPPED, hidden_dims=[8, 8], epochs=50, loss="focal")
    together = fit_mlps([small, large], [small_y, large_y], 3, config, seeds=[1, 2])
    alone = [fit_mlp(small, small_y, 3, config, seed=1), fit_mlp(large, large_y, 3, config, seed=2)]
    for joint, single, x in zip(together, alone, [small, large], strict=True):
        np.testing.assert_allclose(
            joint.predict_proba(x), single.predict_proba(x), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(joint.history, single.history, rtol=1e-4)


def test_bad_settings_are_refused():
    with pytest.raises(ValidationError, match="loss"):
        changed(SHIPPED, loss="hinge")
    with pytest.raises(ValidationError, match="focal_gamma"):
        changed(SHIPPED, focal_gamma=-1.0)
    x, y = blobs(3, 2, seed=0)
    with pytest.raises(ValueError, match="class indices"):
        fit_mlp(x, y + 1, 2, SMALL, seed=0)
    with pytest.raises(ValueError, match="one training set, label array and seed per model"):
        fit_mlps([x], [y], 2, SMALL, seeds=[0, 1])
