"""What a trained Mult-VAE learned, in forms a person can inspect.

A Mult-VAE is only as trustworthy as its latent space looks: collapsed dimensions
mean β is too strong, users scattered at random mean the encoder learned little,
and items whose decoder vectors sit next to unrelated items mean the model ranks by
popularity alone. This module computes those views from the model itself (torch and
numpy only); ``vaeops.reports.latent_views`` draws them and ``vaeops.reports.latent_tables``
tabulates them.

Active dimensions use the KL criterion: dimension ``d`` is active when the KL of
``q(z_d | x)`` from the prior ``N(0, 1)``, averaged over users, exceeds a threshold
(0.01 nats by default). It is zero exactly when the posterior equals the prior, which
is the collapse β controls, and it is the term the training objective pays for. Unlike
Burda et al.'s covariance criterion it also counts a dimension whose mean is the same
for every user, so a dimension that is active here yet carries no information about
the user shows up in the user map, not in this count.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import scipy.sparse as sp
import torch

from vaeops.data.sparse import DeviceCSR
from vaeops.recommenders.models import MultVAE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posterior:
    """Parameters of the diagonal Gaussian ``q(z | x)``, one row per user (on the CPU)."""

    mu: torch.Tensor  # (n_users, latent_dim)
    logvar: torch.Tensor  # (n_users, latent_dim)


def encode_users(model: MultVAE, matrix: sp.csr_matrix, batch_size: int) -> Posterior:
    """The encoder's posterior for every row of ``matrix``, batched on the model's device."""
    if matrix.shape[0] == 0:
        raise ValueError("the matrix has no users to encode; pass at least one row.")
    if matrix.shape[1] != model.n_items:
        raise ValueError(
            f"the matrix has {matrix.shape[1]} item columns but the model was trained on "
            f"{model.n_items}; encode users with the training item index."
        )
    device = next(model.parameters()).device
    rows = DeviceCSR(matrix, device)
    mus, logvars = [], []
    model.eval()
    with torch.no_grad():
        for batch in rows.batches(batch_size):
            mu, logvar = model.encode(batch)
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
    return Posterior(mu=torch.cat(mus), logvar=torch.cat(logvars))


def posteriors_by_split(
    model: torch.nn.Module, histories: Mapping[str, sp.csr_matrix], batch_size: int
) -> dict[str, Posterior]:
    """The posterior of every user of each split, e.g. ``{"train": ..., "test": ...}``.

    Empty for a model without an approximate posterior (Mult-DAE): the views then say so
    in place of their pictures, so the rest of a run is still logged.
    """
    if not isinstance(model, MultVAE):
        logger.warning(
            "%s has no approximate posterior: no user maps, traversal or KL plot",
            model.config.kind,
        )
        return {}
    logger.info(
        "encoding the users of %s",
        ", ".join(f"{split} ({matrix.shape[0]})" for split, matrix in histories.items()),
    )
    return {split: encode_users(model, matrix, batch_size) for split, matrix in histories.items()}


def no_posterior_text(kind: str) -> str:
    """What stands in for a latent view of a model without ``q(z | x)``."""
    return (
        f"The {kind} model has no approximate posterior q(z|x), so there is no latent map to draw."
    )


def kl_per_dimension(posterior: Posterior) -> torch.Tensor:
    """Mean over users of ``KL(q(z_d | x) || N(0, 1))`` for each latent dimension, in nats."""
    mu, logvar = posterior.mu.double(), posterior.logvar.double()
    return (0.5 * (mu * mu + logvar.exp() - 1.0 - logvar)).mean(dim=0)


def count_active_dimensions(kl: torch.Tensor, threshold: float = 0.01) -> int:
    """Dimensions whose average KL exceeds ``threshold`` nats (see the module docstring)."""
    if threshold < 0:
        raise ValueError(f"the active-dimension threshold must be >= 0 nats, got {threshold}.")
    return int((kl > threshold).sum())


@dataclass(frozen=True)
class Projection:
    """Points in the plane of their two leading principal axes."""

    coordinates: torch.Tensor  # (n_points, 2)
    explained_variance_ratio: torch.Tensor  # (2,), largest first


def principal_components_2d(points: torch.Tensor) -> Projection:
    """PCA to two dimensions, with each axis's sign fixed so that reruns draw the same map."""
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 2:
        raise ValueError(
            f"a 2-D map needs at least 2 points of at least 2 dimensions, got shape "
            f"{tuple(points.shape)}."
        )
    centred = points.double() - points.double().mean(dim=0)
    _, singular_values, right = torch.linalg.svd(centred, full_matrices=False)
    axes = right[:2]
    # An eigenvector's sign is arbitrary; pointing its largest loading up makes it stable.
    largest = axes.abs().argmax(dim=1)
    axes = axes * axes[torch.arange(2), largest].sign().unsqueeze(1)
    variance = singular_values.square()
    total = variance.sum()
    ratio = variance[:2] / total if total > 0 else torch.zeros(2, dtype=variance.dtype)
    return Projection(
        coordinates=(centred @ axes.T).float(), explained_variance_ratio=ratio.float()
    )


def decoder_item_vectors(model: torch.nn.Module) -> torch.Tensor:
    """One vector per item: its row of the decoder's output layer, which scores that item."""
    return model.decoder[-1].weight.detach().float().cpu()


@dataclass(frozen=True)
class Neighbours:
    """For each query item, its nearest other items, most similar first."""

    items: torch.Tensor  # (n_queries, k) item columns
    cosine: torch.Tensor  # (n_queries, k)


def item_neighbours(item_vectors: torch.Tensor, queries: Sequence[int], k: int) -> Neighbours:
    """The ``k`` items whose vectors have the highest cosine similarity to each query item."""
    n_items = item_vectors.shape[0]
    if not 0 < k < n_items:
        raise ValueError(f"k must be between 1 and {n_items - 1} (the other items), got {k}.")
    query_index = torch.as_tensor(list(queries), dtype=torch.long)
    if query_index.numel() and not bool(((query_index >= 0) & (query_index < n_items)).all()):
        raise ValueError(
            f"query items must be item columns in [0, {n_items}), got {list(queries)}."
        )
    unit = torch.nn.functional.normalize(item_vectors.float(), dim=1)
    similarity = unit[query_index] @ unit.T
    similarity[torch.arange(query_index.numel()), query_index] = float("-inf")
    cosine, items = similarity.topk(k, dim=1)
    return Neighbours(items=items, cosine=cosine)


def latent_traversal(
    model: torch.nn.Module,
    start: torch.Tensor,
    end: torch.Tensor,
    steps: int,
    k: int,
    exclude: Sequence[int] = (),
) -> torch.Tensor:
    """Top-``k`` items decoded at ``steps`` evenly spaced points from ``start`` to ``end``.

    The recommender's version of a VAE's interpolation grid: row 0 decodes ``start`` and
    the last row decodes ``end``. Items in ``exclude`` (e.g. what both users have already
    seen) are never recommended, as in evaluation.
    """
    if steps < 2:
        raise ValueError(f"a traversal needs at least 2 steps (its two ends), got {steps}.")
    candidates = model.n_items - len(set(exclude))
    if not 0 < k <= candidates:
        raise ValueError(f"k must be between 1 and the {candidates} items not excluded, got {k}.")
    device = next(model.parameters()).device
    fractions = torch.linspace(0.0, 1.0, steps, device=device).unsqueeze(1)
    start, end = start.to(device).float(), end.to(device).float()
    model.eval()
    with torch.no_grad():
        logits = model.decode(start + fractions * (end - start)).float()
    logits[:, torch.as_tensor(list(exclude), dtype=torch.long, device=device)] = float("-inf")
    return logits.topk(k, dim=1).indices.cpu()
