import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from tests.helpers.devices import DEVICES
from tests.helpers.settings import evaluation_block, model_settings, training_settings
from vaeops.data.sparse import DeviceCSR
from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.metrics import evaluate, scipy_scorer
from vaeops.recommenders.models import MultDAE, MultVAE, build_model
from vaeops.recommenders.training import TrainingDiverged, kl_weight, train_autoencoder

# The architecture of the small problem's model: 40 items, 16 hidden, 4 latent.
SMALL = {"hidden_dims": [16], "latent_dim": 4}


def binary_csr(rows, cols, density, seed):
    matrix = sp.random(
        rows, cols, density=density, format="csr", random_state=seed, dtype=np.float32
    )
    matrix.data[:] = 1
    return matrix


def dense_reference_loss(model: MultVAE, x: torch.Tensor, eps: torch.Tensor, beta: float):
    """The authors' formulation with a dense input: normalize, linear layers, log_softmax."""
    h = F.normalize(x, dim=1) @ model.input_layer.weight + model.input_bias
    for layer in model.encoder:
        h = layer(torch.tanh(h))
    mu, logvar = h.chunk(2, dim=1)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = model.decode(z)
    nll = -(F.log_softmax(logits, dim=1) * x).sum(dim=1).mean()
    kl = (0.5 * (-logvar + logvar.exp() + mu**2 - 1)).sum(dim=1).mean()
    return nll + beta * kl, nll, kl


@pytest.mark.parametrize("device", DEVICES)
def test_sparse_training_step_equals_dense_reference_in_fp32(device):
    torch.manual_seed(0)
    matrix = binary_csr(16, 30, 0.2, seed=1)
    config = model_settings(hidden_dims=[12], latent_dim=4, dropout=0.0)
    fast, plain = MultVAE(config, 30).to(device), MultVAE(config, 30).to(device)
    plain.load_state_dict(fast.state_dict())
    batch = DeviceCSR(matrix, device).rows(0, 16)
    eps = torch.randn(16, 4, device=device)

    fast.train()
    torch.manual_seed(42)
    torch.randn(16, 4)  # keep RNG use irrelevant: we patch randn_like below
    original = torch.randn_like
    torch.randn_like = lambda t: eps
    try:
        loss_fast, nll_fast, kl_fast = fast.loss(batch, beta=0.3)
    finally:
        torch.randn_like = original
    dense = torch.as_tensor(matrix.toarray(), device=device)
    loss_plain, nll_plain, kl_plain = dense_reference_loss(plain, dense, eps, 0.3)
    torch.testing.assert_close(loss_fast, loss_plain)
    torch.testing.assert_close(nll_fast, nll_plain)
    torch.testing.assert_close(kl_fast, kl_plain)

    loss_fast.backward()
    loss_plain.backward()
    for (name, p_fast), p_plain in zip(fast.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p_fast.grad, p_plain.grad, msg=name)


def test_architecture_follows_the_paper():
    vae = build_model(model_settings(hidden_dims=[600], latent_dim=200), 100)
    assert vae.input_layer.weight.shape == (100, 600)
    assert [layer.out_features for layer in vae.encoder] == [400]  # mean and log-variance
    assert [layer.out_features for layer in vae.decoder] == [600, 100]
    dae = build_model(model_settings("multdae", hidden_dims=[], latent_dim=200), 100)
    assert isinstance(dae, MultDAE)
    assert dae.input_layer.weight.shape == (100, 200)
    assert [layer.out_features for layer in dae.decoder] == [100]
    with pytest.raises(ValueError, match="multvae"):
        model_settings("vae")


def test_inference_uses_the_mean_and_training_samples():
    model = MultVAE(model_settings("multvae", hidden_dims=[8], latent_dim=3), 20)
    batch = DeviceCSR(binary_csr(4, 20, 0.3, seed=2)).rows(0, 4)
    model.eval()
    torch.testing.assert_close(model.score(batch), model.score(batch))
    model.train()
    torch.manual_seed(0)
    first = model(batch)[0]
    torch.manual_seed(1)
    assert not torch.allclose(first, model(batch)[0])


def test_the_absolute_form_reproduces_the_paper_schedule():
    # beta = min(0.2, updates / 200,000): the cap is reached at update 40,000.
    updates_to_cap = training_settings(total_anneal_steps=200_000).updates_to_cap(234)
    assert updates_to_cap == 40_000
    assert kl_weight(0, 0.2, updates_to_cap) == 0.0
    assert kl_weight(20_000, 0.2, updates_to_cap) == pytest.approx(0.1)
    assert kl_weight(40_000, 0.2, updates_to_cap) == pytest.approx(0.2)
    assert kl_weight(10**7, 0.2, updates_to_cap) == 0.2
    assert kl_weight(5, 0.3, 0) == 0.3


def test_the_relative_schedule_reaches_the_cap_on_any_dataset():
    # The default share reproduces the paper's trajectory on ML-20M (234 updates an
    # epoch, cap near update 40,000 of 46,800) and reaches the cap on ML-100K (2 an epoch).
    config = training_settings(epochs=200)
    assert config.updates_to_cap(234) == pytest.approx(40_000, rel=0.01)
    assert config.updates_to_cap(2) == 340
    assert kl_weight(340, config.anneal_cap, config.updates_to_cap(2)) == config.anneal_cap
    assert kl_weight(170, config.anneal_cap, config.updates_to_cap(2)) == pytest.approx(0.1)


def small_problem(seed=0):
    # Two item communities; users click within one, so the model can learn them.
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(240):
        community = user % 2
        items = rng.choice(np.arange(community * 20, community * 20 + 20), size=8, replace=False)
        rows += [user] * 8
        cols += items.tolist()
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(240, 40))
    fold_in = matrix[200:].tolil()
    target = sp.lil_matrix(fold_in.shape, dtype=np.float32)
    for r in range(40):
        held = fold_in.rows[r][:2]
        for c in held:
            target[r, c] = 1
            fold_in[r, c] = 0
    return matrix[:200], fold_in.tocsr(), target.tocsr()


def test_training_logs_the_beta_schedule_and_keeps_the_best_epoch():
    train, fold_in, target = small_problem()
    seen = []
    result = train_autoencoder(
        training_settings(
            SMALL,
            epochs=6,
            batch_size=50,
            learning_rate=0.03,
            anneal_cap=0.2,
            total_anneal_steps=40,
            device="cpu",
        ),
        train,
        fold_in,
        target,
        callbacks=(seen.append,),
    )
    # 4 updates per epoch; beta is read before the last update of each epoch.
    assert [round(r["beta"], 3) for r in seen] == [0.075, 0.175, 0.2, 0.2, 0.2, 0.2]
    assert result.history == seen
    best = max(seen, key=lambda r: r["val_ndcg_at_100"])
    assert result.best_epoch == best["epoch"]
    assert result.best_validation_ndcg == best["val_ndcg_at_100"]
    assert seen[-1]["loss"] < seen[0]["loss"]
    # Popularity cannot tell the two communities apart; the model must.
    popularity = evaluate(
        scipy_scorer(Popularity().fit(train)),
        fold_in,
        target,
        ks=(100,),
        batch_size=evaluation_block()["batch_size"],
    )
    assert result.best_validation_ndcg > popularity.summary()["ndcg_at_100"] + 0.1


def test_cpu_training_is_reproducible_with_a_seed():
    train, fold_in, target = small_problem()
    config = training_settings(SMALL, epochs=2, batch_size=50, device="cpu", seed=7)
    first = train_autoencoder(config, train, fold_in, target)
    second = train_autoencoder(config, train, fold_in, target)
    assert first.history[-1]["loss"] == second.history[-1]["loss"]
    for a, b in zip(
        first.model.state_dict().values(), second.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b)


def test_without_validation_users_every_epoch_runs_and_the_last_is_kept():
    train, fold_in, target = small_problem()
    config = training_settings(SMALL, epochs=3, batch_size=50, learning_rate=0.03, device="cpu")
    validated = train_autoencoder(config, train, fold_in, target)
    fixed_length = train_autoencoder(config, train, None, None)

    assert fixed_length.best_epoch == 3 and math.isnan(fixed_length.best_validation_ndcg)
    assert not any(name.startswith("val_") for name in fixed_length.history[-1])
    # Same updates as the validated run, and the kept weights are epoch 3's.
    assert [r["loss"] for r in fixed_length.history] == [r["loss"] for r in validated.history]
    last_epoch_ndcg = evaluate(
        fixed_length.model.score,
        fold_in,
        target,
        ks=(100,),
        batch_size=evaluation_block()["batch_size"],
    )
    assert last_epoch_ndcg.summary()["ndcg_at_100"] == pytest.approx(
        validated.history[-1]["val_ndcg_at_100"], abs=1e-6
    )
    with pytest.raises(ValueError, match="both validation_fold_in and validation_target"):
        train_autoencoder(config, train, fold_in, None)


def test_diverging_loss_raises_a_clear_error():
    train, fold_in, target = small_problem()
    with pytest.raises(TrainingDiverged, match="learning rate"):
        train_autoencoder(
            training_settings(SMALL, epochs=2, batch_size=50, learning_rate=1e30, device="cpu"),
            train,
            fold_in,
            target,
        )


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_autocast_changes_the_loss_only_by_rounding(device):
    torch.manual_seed(0)
    model = (
        MultVAE(model_settings("multvae", hidden_dims=[64], latent_dim=16), 300).to(device).eval()
    )
    batch = DeviceCSR(binary_csr(32, 300, 0.05, seed=3), device).rows(0, 32)
    full, _, _ = model.loss(batch, beta=0.2)
    with torch.autocast(device, dtype=torch.bfloat16):
        reduced, _, _ = model.loss(batch, beta=0.2)
    assert reduced.dtype == torch.float32
    assert reduced.item() == pytest.approx(full.item(), rel=2e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_each_device_in_each_precision(device):
    train, fold_in, target = small_problem()
    for precision in ("fp32", "bf16"):
        result = train_autoencoder(
            training_settings(SMALL, epochs=2, batch_size=50, device=device, precision=precision),
            train,
            fold_in,
            target,
        )
        assert result.device.startswith(device)
        assert all(np.isfinite(r["loss"]) for r in result.history)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="bf16"):
        training_settings(precision="fp16")
