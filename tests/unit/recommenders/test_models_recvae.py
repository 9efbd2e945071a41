import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from tests.helpers.devices import DEVICES
from tests.helpers.settings import model_block, model_settings
from vaeops.data.sparse import DeviceCSR
from vaeops.recommenders.models import RecVAE, build_model
from vaeops.recommenders.settings import ModelParameters


def clicks(rows, cols, seed):
    matrix = sp.random(rows, cols, density=0.25, format="csr", random_state=seed, dtype=np.float32)
    matrix.data[:] = 1
    return matrix


def log_normal(z, mu, logvar):
    logvar = torch.as_tensor(logvar, dtype=z.dtype)
    return -0.5 * (logvar + math.log(2 * math.pi) + (z - mu) ** 2 / logvar.exp())


def dense_encoder(encoder, x):
    """The authors' encoder on a dense input: normalise, then residual swish + layer norm."""
    h = encoder.norms[0](
        F.silu(F.normalize(x, dim=1) @ encoder.input_layer.weight + encoder.input_bias)
    )
    outputs = [h]
    for layer, norm in zip(encoder.hidden, encoder.norms[1:], strict=True):
        h = norm(F.silu(layer(h) + sum(outputs)))
        outputs.append(h)
    return encoder.mu(h), encoder.logvar(h)


@pytest.mark.parametrize("device", DEVICES)
def test_loss_equals_the_dense_formulation_with_the_composite_prior(device):
    torch.manual_seed(0)
    matrix = clicks(8, 20, seed=3)
    config = model_settings("recvae", hidden_dims=[6], latent_dim=3, gamma=0.01)
    model = RecVAE(config, 20).to(device)
    with torch.no_grad():  # a prior that differs from the encoder, as after some training
        for p in model.previous_encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.input_dropout = 0.0
    model.train()
    eps = torch.randn(8, 3, device=device)
    original = torch.randn_like
    torch.randn_like = lambda t: eps
    try:
        loss, nll, kl = model.loss(DeviceCSR(matrix, device).rows(0, 8), beta=123.0)
    finally:
        torch.randn_like = original

    x = torch.as_tensor(matrix.toarray(), device=device)
    mu, logvar = dense_encoder(model.encoder, x)
    z = mu + eps * torch.exp(0.5 * logvar)
    expected_nll = -(F.log_softmax(model.decoder(z), dim=1) * x).sum(1).mean()
    old_mu, old_logvar = dense_encoder(model.previous_encoder, x)
    prior = torch.logsumexp(
        torch.stack(
            [
                log_normal(z, 0.0, 0.0) + math.log(3 / 20),
                log_normal(z, old_mu, old_logvar) + math.log(3 / 4),
                log_normal(z, 0.0, 10.0) + math.log(1 / 10),
            ],
            -1,
        ),
        -1,
    )
    kl_weight = 0.01 * x.sum(1)  # gamma times each user's clicks; beta plays no part
    expected_kl = ((log_normal(z, mu, logvar) - prior).sum(1) * kl_weight).mean()
    torch.testing.assert_close(nll, expected_nll)
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(loss, expected_nll + expected_kl)


def test_phases_alternate_encoder_and_decoder_and_refresh_the_prior():
    model = build_model(model_settings("recvae", hidden_dims=[8], latent_dim=4), 30)
    encoder_phase, decoder_phase = model.training_phases()
    assert (encoder_phase.name, encoder_phase.passes, encoder_phase.input_dropout) == (
        "encoder",
        3,
        0.5,
    )
    assert (decoder_phase.name, decoder_phase.passes, decoder_phase.input_dropout) == (
        "decoder",
        1,
        0.0,
    )
    encoder_ids = {id(p) for p in encoder_phase.parameters}
    decoder_ids = {id(p) for p in decoder_phase.parameters}
    assert encoder_ids == {id(p) for p in model.encoder.parameters()}
    assert decoder_ids == {id(p) for p in model.decoder.parameters()}
    assert not any(p.requires_grad for p in model.previous_encoder.parameters())

    with torch.no_grad():
        model.encoder.mu.weight.add_(1.0)
    assert not torch.equal(model.encoder.mu.weight, model.previous_encoder.mu.weight)
    model.end_phase("decoder")
    assert not torch.equal(model.encoder.mu.weight, model.previous_encoder.mu.weight)
    model.end_phase("encoder")
    torch.testing.assert_close(model.encoder.mu.weight, model.previous_encoder.mu.weight)


def test_recvae_needs_one_hidden_width():
    with pytest.raises(ValueError, match="hidden_dims to one value"):
        build_model(model_settings("recvae", hidden_dims=[8, 4]), 30)


def test_a_recvae_needs_its_kl_weight_and_passes():
    without_gamma = {k: v for k, v in model_block("recvae").items() if k != "gamma"}
    with pytest.raises(ValueError, match="a recvae model needs gamma"):
        ModelParameters.model_validate(without_gamma)
