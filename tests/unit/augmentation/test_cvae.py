"""The conditional VAE: it learns, its samples belong to the class asked for, and
training many side by side changes nothing."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from tests.helpers.augmentation_settings import augmentation_settings, changed
from tests.helpers.single_thread import one_torch_thread  # noqa: F401 (fixture)
from vaeops.augmentation.cvae import fit_cvae, fit_cvaes
from vaeops.augmentation.settings import SAMPLING_MODES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = augmentation_settings().arms.cvae.settings
DIGITS_CONFIG = changed(
    SHIPPED, latent_dim=8, hidden_dim=64, beta=1.0, epochs=300, learning_rate=1e-2
)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x / 16.0, y


def two_blobs(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0, 1.0], [2.0, 0.0, -1.0]])
    labels = np.repeat([0, 1], n_per_class)
    return centres[labels] + 0.3 * rng.standard_normal((2 * n_per_class, 3)), labels


def test_training_lowers_the_negative_elbo_of_its_batch():
    x, y = two_blobs(20, seed=0)
    config = changed(SHIPPED, latent_dim=2, hidden_dim=16, epochs=200, learning_rate=1e-2)
    untrained = fit_cvae(x, y, 2, changed(config, epochs=1), "gaussian", seed=3)
    trained = fit_cvae(x, y, 2, config, "gaussian", seed=3)
    before, after = untrained.negative_elbo(x, y, seed=0), trained.negative_elbo(x, y, seed=0)
    assert after < before - 1.0
    # The per-epoch training loss falls too (first tenth vs last tenth of the epochs).
    assert trained.history[-20:].mean() < trained.history[:20].mean()


def test_digit_samples_are_recognised_as_their_class(digits):
    x, y = digits
    rng = np.random.default_rng(0)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in range(10)]
    )
    held_out = np.setdiff1d(np.arange(len(y)), train)
    judge = LogisticRegression(max_iter=1000).fit(
        x[held_out], y[held_out]
    )  # never saw the CVAE's rows
    generator = fit_cvae(x[train], y[train], 10, DIGITS_CONFIG, "bernoulli", seed=0)
    labels = np.repeat(np.arange(10), 30)
    for mode in SAMPLING_MODES:
        samples = generator.sample(labels, mode, tau=1.0, seed=1)
        assert samples.shape == (300, 64)
        assert samples.min() >= 0 and samples.max() <= 1  # grey levels, like the data
        accuracy = (judge.predict(samples) == labels).mean()
        assert accuracy > 0.8, (
            f"{mode} sampling: {accuracy:.2f} of samples recognised (chance: 0.10)"
        )


def test_gaussian_samples_of_a_class_lie_near_that_class():
    x, y = two_blobs(30, seed=1)
    config = changed(SHIPPED, latent_dim=2, hidden_dim=16, epochs=300, learning_rate=1e-2)
    generator = fit_cvae(x, y, 2, config, "gaussian", seed=0)
    for mode in SAMPLING_MODES:
        samples = generator.sample(np.repeat([0, 1], 100), mode, tau=SHIPPED.tau, seed=2)
        for label in (0, 1):
            drawn = samples[100 * label : 100 * (label + 1)]
            assert np.abs(drawn.mean(axis=0) - x[y == label].mean(axis=0)).max() < 0.5, mode


def test_local_sampling_with_zero_tau_decodes_the_training_rows_own_codes():
    x, y = two_blobs(10, seed=2)
    config = changed(SHIPPED, latent_dim=2, hidden_dim=16, epochs=50)
    x = (x - x.min()) / (x.max() - x.min())
    generator = fit_cvae(x, y, 2, config, "bernoulli", seed=0)
    samples = generator.sample(np.zeros(40, dtype=int), "local", tau=0.0, seed=0)
    mu, _ = generator.encode(x[y == 0], y[y == 0])
    own = generator.decode_mean(mu, np.eye(2)[np.zeros(len(mu), dtype=int)])
    distinct = np.unique(samples.round(6), axis=0)
    assert len(distinct) <= len(own)
    assert all(np.isclose(row, own, atol=1e-5).all(axis=1).any() for row in distinct)


def test_training_side_by_side_equals_training_alone():
    small, small_y = two_blobs(5, seed=3)
    large, large_y = two_blobs(40, seed=4)
    config = changed(SHIPPED, latent_dim=3, hidden_dim=8, epochs=60)
    together = fit_cvaes([small, large], [small_y, large_y], 2, config, "gaussian", seeds=[11, 12])
    alone = [
        fit_cvae(small, small_y, 2, config, "gaussian", seed=11),
        fit_cvae(large, large_y, 2, config, "gaussian", seed=12),
    ]
    for joint, single in zip(together, alone, strict=True):
        for (name, a), (_, b) in zip(
            joint.model.named_parameters(), single.model.named_parameters(), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
        np.testing.assert_allclose(
            joint.sample(np.array([0, 1, 1]), "posterior", tau=SHIPPED.tau, seed=5),
            single.sample(np.array([0, 1, 1]), "posterior", tau=SHIPPED.tau, seed=5),
            rtol=1e-4,
            atol=1e-5,
        )
    # A generator keeps only its own training rows.
    assert together[0].train_x.shape == (10, 3)


def test_bad_input_is_refused(digits):
    x, y = digits
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_cvae(x * 16, y, 10, DIGITS_CONFIG, "bernoulli", seed=0)
    with pytest.raises(ValueError, match="class indices"):
        fit_cvae(x, y, 5, DIGITS_CONFIG, "bernoulli", seed=0)
    with pytest.raises(ValueError, match="likelihood"):
        fit_cvae(x, y, 10, DIGITS_CONFIG, "poisson", seed=0)
    generator = fit_cvae(
        x[y < 2][:20], y[y < 2][:20], 10, changed(SHIPPED, epochs=2), "bernoulli", seed=0
    )
    with pytest.raises(ValueError, match="classes \\[2\\] had none"):
        generator.sample(np.array([2]), "posterior", tau=SHIPPED.tau, seed=0)
    with pytest.raises(ValueError, match="sampling mode"):
        generator.sample(np.array([0]), "nearest", tau=SHIPPED.tau, seed=0)
