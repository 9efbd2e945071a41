"""The latent-space views: active dimensions, PCA, item neighbours and traversals."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.helpers.settings import model_settings
from vaeops.data.sparse import DeviceCSR
from vaeops.recommenders.latent import (
    Posterior,
    count_active_dimensions,
    decoder_item_vectors,
    encode_users,
    item_neighbours,
    kl_per_dimension,
    latent_traversal,
    posteriors_by_split,
    principal_components_2d,
)
from vaeops.recommenders.models import build_model

LATENT_DIM = 6


def random_clicks(n_users: int, n_items: int, per_user: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    columns = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    rows = np.repeat(np.arange(n_users), per_user)
    return sp.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, columns)), shape=(n_users, n_items)
    )


def tiny_vae(n_items: int = 30):
    torch.manual_seed(0)
    return build_model(model_settings("multvae", hidden_dims=[8], latent_dim=LATENT_DIM), n_items)


def set_encoder_output(model, mu: float, logvar: float) -> None:
    """Make the encoder ignore its input: its last layer outputs the constant (mu, logvar)."""
    last = model.encoder[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias[:LATENT_DIM] = mu
        last.bias[LATENT_DIM:] = logvar


def test_no_dimension_is_active_when_the_posterior_equals_the_prior():
    model = tiny_vae()
    set_encoder_output(model, mu=0.0, logvar=0.0)
    posterior = encode_users(model, random_clicks(40, 30, 5), batch_size=16)
    kl = kl_per_dimension(posterior)
    assert kl.shape == (LATENT_DIM,)
    assert torch.allclose(kl, torch.zeros(LATENT_DIM, dtype=kl.dtype))
    assert count_active_dimensions(kl, threshold=0.01) == 0


def test_every_dimension_is_active_for_a_deterministic_encoder_with_large_means():
    model = tiny_vae()
    set_encoder_output(model, mu=10.0, logvar=-20.0)
    posterior = encode_users(model, random_clicks(40, 30, 5), batch_size=16)
    kl = kl_per_dimension(posterior)
    # 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2) with mu = 10, log sigma^2 = -20
    expected = 0.5 * (100.0 + math.exp(-20.0) - 1.0 + 20.0)
    assert kl.tolist() == pytest.approx([expected] * LATENT_DIM, rel=1e-5)
    assert count_active_dimensions(kl, threshold=0.01) == LATENT_DIM


def test_kl_per_dimension_averages_over_users_by_hand():
    posterior = Posterior(
        mu=torch.tensor([[1.0, 0.0], [3.0, 0.0]]),
        logvar=torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]]),
    )
    # dim 0: users give 0.5 and 4.5; dim 1: 0.5 * (2 - 1 - log 2) and 0
    expected = [2.5, 0.25 * (1.0 - math.log(2.0))]
    assert kl_per_dimension(posterior).tolist() == pytest.approx(expected)
    assert count_active_dimensions(torch.tensor([0.5, 0.01, 0.0100001]), threshold=0.01) == 2
    with pytest.raises(ValueError, match=">= 0"):
        count_active_dimensions(torch.tensor([1.0]), threshold=-1.0)


def test_encode_users_matches_the_model_on_each_user_and_rejects_a_foreign_item_index():
    model = tiny_vae()
    clicks = random_clicks(25, 30, 4)
    posterior = encode_users(model, clicks, batch_size=7)
    with torch.no_grad():
        mu, logvar = model.encode(DeviceCSR(clicks).rows(0, 25))
    assert torch.allclose(posterior.mu, mu, atol=1e-6)
    assert torch.allclose(posterior.logvar, logvar, atol=1e-6)
    with pytest.raises(ValueError, match="30"):
        encode_users(model, random_clicks(5, 31, 4), batch_size=7)


def test_posteriors_by_split_encode_each_split_and_are_empty_for_a_mult_dae():
    model = tiny_vae()
    train, test = random_clicks(12, 30, 4, seed=1), random_clicks(5, 30, 4, seed=2)
    posteriors = posteriors_by_split(model, {"train": train, "test": test}, batch_size=4)
    assert list(posteriors) == ["train", "test"]
    assert torch.equal(posteriors["test"].mu, encode_users(model, test, batch_size=4).mu)
    assert posteriors["train"].logvar.shape == (12, LATENT_DIM)
    dae = build_model(model_settings("multdae", hidden_dims=[], latent_dim=8), 30)
    assert posteriors_by_split(dae, {"train": train}, batch_size=4) == {}


def test_pca_orders_axes_by_variance_and_recovers_the_widest_direction():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(500, 3, generator=generator) * torch.tensor([0.1, 5.0, 1.0]) + 7.0
    projection = principal_components_2d(points)
    assert projection.coordinates.shape == (500, 2)
    first, second = projection.explained_variance_ratio.tolist()
    assert first > second > 0
    assert first == pytest.approx(25 / 26.01, abs=0.03)
    # The first coordinate is (up to sign) the centred widest input dimension.
    widest = points[:, 1] - points[:, 1].mean()
    correlation = torch.corrcoef(torch.stack([projection.coordinates[:, 0], widest]))[0, 1]
    assert abs(float(correlation)) > 0.99
    assert torch.equal(
        principal_components_2d(points.flip(0)).coordinates, projection.coordinates.flip(0)
    )
    with pytest.raises(ValueError, match="at least 2 points"):
        principal_components_2d(points[:1])


def two_cluster_clicks(n_users: int = 200, cluster_size: int = 10, seed: int = 0) -> sp.csr_matrix:
    """Even users click only items 0..9, odd users only items 10..19."""
    rng = np.random.default_rng(seed)
    rows, columns = [], []
    for user in range(n_users):
        offset = (user % 2) * cluster_size
        picked = rng.choice(cluster_size, 5, replace=False) + offset
        rows += [user] * picked.size
        columns += picked.tolist()
    return sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, columns)), shape=(n_users, 2 * cluster_size)
    )


def test_item_neighbours_of_a_trained_model_stay_within_their_planted_cluster():
    torch.manual_seed(0)
    model = build_model(model_settings("multvae", hidden_dims=[16], latent_dim=4), 20)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    clicks = DeviceCSR(two_cluster_clicks()).rows(0, 200)
    model.train()
    for _ in range(100):
        optimiser.zero_grad()
        model.loss(clicks, beta=0.2)[0].backward()
        optimiser.step()
    neighbours = item_neighbours(decoder_item_vectors(model), range(20), k=4)
    assert neighbours.items.shape == (20, 4)
    cluster_of_query = torch.arange(20).unsqueeze(1) // 10
    assert torch.equal(neighbours.items // 10, cluster_of_query.expand(20, 4))
    assert bool((neighbours.items != torch.arange(20).unsqueeze(1)).all()), (
        "an item is not its own neighbour"
    )
    assert bool((neighbours.cosine[:, :-1] >= neighbours.cosine[:, 1:]).all())


def test_item_neighbours_rank_by_cosine_and_reject_impossible_requests():
    vectors = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    neighbours = item_neighbours(vectors, [0], k=3)
    assert neighbours.items.tolist() == [[1, 2, 3]]
    assert neighbours.cosine[0].tolist() == pytest.approx([10 / math.sqrt(101), 0.0, -1.0])
    with pytest.raises(ValueError, match="between 1 and 3"):
        item_neighbours(vectors, [0], k=4)
    with pytest.raises(ValueError, match="item columns"):
        item_neighbours(vectors, [4], k=1)


def test_traversal_ends_are_the_two_users_own_recommendations():
    model = tiny_vae()
    clicks = random_clicks(10, 30, 6)
    posterior = encode_users(model, clicks, batch_size=10)
    seen = sorted(set(clicks[2].indices) | set(clicks[7].indices))
    top = latent_traversal(model, posterior.mu[2], posterior.mu[7], steps=5, k=10, exclude=seen)
    assert top.shape == (5, 10)
    with torch.no_grad():
        scores = model.score(DeviceCSR(clicks).rows(0, 10))
    scores[:, seen] = float("-inf")
    assert top[0].tolist() == scores[2].topk(10).indices.tolist()
    assert top[-1].tolist() == scores[7].topk(10).indices.tolist()
    assert not set(top.flatten().tolist()) & set(seen)
    with pytest.raises(ValueError, match="at least 2 steps"):
        latent_traversal(model, posterior.mu[2], posterior.mu[7], steps=1, k=10)
    with pytest.raises(ValueError, match="items not excluded"):
        latent_traversal(model, posterior.mu[2], posterior.mu[7], steps=3, k=30, exclude=seen)
