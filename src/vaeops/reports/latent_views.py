"""The latent space drawn: users on a 2-D map, and the posterior's KL per dimension.

A user map colours each user by activity and, when items have genres, by the user's
favourite genre. Figures are built with matplotlib's object API (``Figure``), not pyplot,
so drawing one neither selects a backend nor registers a global figure; the caller saves it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from vaeops.recommenders.latent import (
    Posterior,
    count_active_dimensions,
    kl_per_dimension,
    no_posterior_text,
    principal_components_2d,
)

logger = logging.getLogger(__name__)

OTHER_GENRES = "other genres"
NO_GENRE = "no genre"
# tab10 without its gray, which is kept for "other genres" and "no genre".
GENRE_COLOURS = [colormaps["tab10"](i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
MAPPED_USERS = {"train": "training users", "test": "test users (encoded from fold-in items)"}
PROJECTIONS = ("pca", "tsne", "umap")


def characteristic_genres(
    history: sp.csr_matrix, items: pd.DataFrame, max_genres: int
) -> pd.Series | None:
    """Each user's genre whose share of their items most exceeds its share among all the users.

    The plainly most-watched genre says little: on MovieLens 100K it is Drama for two
    users in three. Genres beyond the ``max_genres`` most frequent answers are merged into
    one legend entry so the colours stay distinguishable. None without genre metadata.
    """
    item_genres = items["genres"].str.get_dummies(sep="|").drop(columns="", errors="ignore")
    if item_genres.shape[1] == 0:
        return None
    counts = (history > 0).astype(np.float64) @ item_genres.to_numpy(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    overall_share = counts.sum(axis=0) / max(counts.sum(), 1.0)
    excess = counts / np.maximum(totals, 1.0) - overall_share
    genre = pd.Series(item_genres.columns[excess.argmax(axis=1)], dtype=object)
    genre[totals[:, 0] == 0] = NO_GENRE
    common = [g for g in genre.value_counts().index if g != NO_GENRE][:max_genres]
    genre[~genre.isin([*common, NO_GENRE])] = OTHER_GENRES
    return genre


def project_to_2d(
    points: torch.Tensor, method: str, seed: int
) -> tuple[np.ndarray, tuple[str, str], str]:
    """2-D coordinates of ``points``, the two axis labels and the method's display name."""
    if method == "pca":
        projection = principal_components_2d(points)
        ratio = projection.explained_variance_ratio.tolist()
        labels = (f"PC1 ({ratio[0]:.0%} of variance)", f"PC2 ({ratio[1]:.0%} of variance)")
        return projection.coordinates.numpy(), labels, "PCA"
    if method not in PROJECTIONS:
        raise ValueError(
            f"reporting.user_map.projection must be pca, tsne or umap, got {method!r}."
        )
    logger.info("projecting %d users to 2-D with %s", points.shape[0], method)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (points.shape[0] - 1) / 3)
        embedding = TSNE(init="pca", perplexity=perplexity, random_state=seed)
        return embedding.fit_transform(points.numpy()), ("t-SNE 1", "t-SNE 2"), "t-SNE"
    try:
        import umap
    except ImportError:
        raise ValueError(
            "reporting.user_map.projection 'umap' needs umap-learn: `pip install umap-learn`, "
            "or choose pca or tsne."
        ) from None
    embedding = umap.UMAP(random_state=seed)
    return embedding.fit_transform(points.numpy()), ("UMAP 1", "UMAP 2"), "UMAP"


def user_maps(
    posteriors: Mapping[str, Posterior],
    histories: Mapping[str, sp.csr_matrix],
    items: pd.DataFrame,
    projection: str,
    max_genres: int,
    seed: int,
    model_kind: str,
) -> dict[str, Figure]:
    """The map of each split's users (``train``, ``test``) from their encoder means.

    Without posteriors (a model without ``q(z | x)``) each map is a note saying why.
    """
    if not posteriors:
        return {split: no_posterior_figure(model_kind) for split in histories}
    return {
        split: user_map(
            posteriors[split].mu, history, items, projection, max_genres, seed, MAPPED_USERS[split]
        )
        for split, history in histories.items()
    }


def user_map(
    mu: torch.Tensor,
    history: sp.csr_matrix,
    items: pd.DataFrame,
    projection: str,
    max_genres: int,
    seed: int,
    who: str,
) -> Figure:
    """Encoder means in 2-D, coloured by activity and, with genres, by favourite genre."""
    if not 1 <= max_genres <= len(GENRE_COLOURS):
        raise ValueError(
            f"reporting.user_map.max_genres_in_legend must be 1..{len(GENRE_COLOURS)} "
            f"(distinguishable colours), got {max_genres}."
        )
    coordinates, axis_labels, method = project_to_2d(mu, projection, seed)
    genres = characteristic_genres(history, items, max_genres)
    n_panels = 1 if genres is None else 2
    figure = Figure(figsize=(6.6 * n_panels, 5.4), layout="constrained")
    axes = figure.subplots(1, n_panels, squeeze=False)[0]
    marker_size = float(np.clip(4000 / len(coordinates), 2, 25))
    shown = axes[0].scatter(
        coordinates[:, 0],
        coordinates[:, 1],
        c=np.maximum(np.diff(history.indptr), 1),
        cmap="viridis",
        norm=LogNorm(),
        s=marker_size,
        alpha=0.8,
        linewidths=0,
    )
    figure.colorbar(shown, ax=axes[0], label="items in the user's history (log scale)")
    axes[0].set_title("coloured by activity")
    if genres is not None:
        _scatter_by_genre(axes[1], coordinates, genres, marker_size)
    for axis in axes:
        axis.set_xlabel(axis_labels[0])
        axis.set_ylabel(axis_labels[1])
    figure.suptitle(f"{len(coordinates)} {who}: encoder means μ, {method} to 2-D")
    return figure


def _scatter_by_genre(axis, coordinates: np.ndarray, genres: pd.Series, marker_size: float):
    named = [g for g in genres.value_counts().index if g not in (OTHER_GENRES, NO_GENRE)]
    colours = {
        **dict(zip(named, GENRE_COLOURS, strict=False)),
        OTHER_GENRES: "lightgray",
        NO_GENRE: "black",
    }
    for genre in [g for g in [*named, OTHER_GENRES, NO_GENRE] if (genres == g).any()]:
        members = (genres == genre).to_numpy()
        axis.scatter(
            coordinates[members, 0],
            coordinates[members, 1],
            color=colours[genre],
            s=marker_size,
            alpha=0.8,
            linewidths=0,
            label=f"{genre} ({members.sum()})",
        )
    axis.legend(
        title="genre (users)",
        fontsize="small",
        loc="best",
        markerscale=max(1.0, 6 / marker_size**0.5),
    )
    # Two lines: on one, the title is wider than its panel and the figure clips it.
    axis.set_title("coloured by favourite genre\n(most above its share among all users)")


def posterior_health(
    posteriors: Mapping[str, Posterior], model_kind: str, threshold: float
) -> dict:
    """Per-dimension KL of the training users' posterior, and how many dimensions are active.

    Returns the KL bar plot, a JSON-ready summary and the metric
    ``latent/active_dimensions`` in kedro-mlflow's ``{key: {value, step}}`` form.
    """
    if not posteriors:
        return {
            "plot": no_posterior_figure(model_kind),
            "summary": {"model": model_kind, "reason": no_posterior_text(model_kind)},
            "metrics": {},
        }
    kl = kl_per_dimension(posteriors["train"])
    active = count_active_dimensions(kl, threshold)
    logger.info(
        "%d of %d latent dimensions are active (mean KL > %g nats)", active, kl.numel(), threshold
    )
    summary = {
        "criterion": "mean over training users of KL(q(z_d|x) || N(0,1)) > threshold",
        "threshold_nats": threshold,
        "active_dimensions": active,
        "latent_dim": kl.numel(),
        "n_users": int(posteriors["train"].mu.shape[0]),
        "total_kl_nats": float(kl.sum()),
        "kl_per_dimension_nats": [float(value) for value in kl],
    }
    return {
        "plot": kl_bar_plot(kl.numpy(), threshold, active),
        "summary": summary,
        "metrics": {"latent/active_dimensions": {"value": active, "step": 0}},
    }


def kl_bar_plot(kl: np.ndarray, threshold: float, active: int) -> Figure:
    """Each dimension's mean KL, largest first, active ones in blue, on a log axis."""
    order = np.argsort(-kl, kind="stable")
    figure = Figure(figsize=(10, 4), layout="constrained")
    axis = figure.subplots()
    is_active = kl[order] > threshold
    positions = np.arange(kl.size)
    floor = max(threshold / 100, 1e-6)  # log axis: show a fully collapsed dimension at the floor
    values = np.maximum(kl[order], floor)
    for mask, colour, label in (
        (is_active, "tab:blue", "active"),
        (~is_active, "tab:gray", "collapsed"),
    ):
        if mask.any():
            axis.bar(
                positions[mask],
                values[mask],
                width=1.0,
                color=colour,
                label=f"{label} ({mask.sum()})",
            )
    axis.axhline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:g} nats")
    axis.set_yscale("log")
    axis.set_xlim(-0.5, kl.size - 0.5)
    axis.set_xlabel("latent dimension, sorted by KL")
    axis.set_ylabel("mean KL to the prior (nats, log scale)")
    axis.set_title(
        f"Posterior health: {active} of {kl.size} latent dimensions active (training users)"
    )
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def no_posterior_figure(kind: str) -> Figure:
    figure = Figure(figsize=(6, 1.5))
    axis = figure.subplots()
    axis.text(0.5, 0.5, no_posterior_text(kind), ha="center", va="center", wrap=True)
    axis.set_axis_off()
    return figure
