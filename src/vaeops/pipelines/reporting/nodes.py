import logging

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from vaeops.errors import DataError  # noqa: E402
from vaeops.data.ingest import load_item_metadata  # noqa: E402
from vaeops.recommenders.latent import (  # noqa: E402
    Posterior,
    count_active_dimensions,
    decoder_item_vectors,
    encode_users,
    item_neighbours,
    kl_per_dimension,
    latent_traversal,
    principal_components_2d,
)
from vaeops.recommenders.models import MultVAE, build_model  # noqa: E402
from vaeops.data.sparse import resolve_device  # noqa: E402

logger = logging.getLogger(__name__)

OTHER_GENRES = "other genres"
NO_GENRE = "no genre"
# tab10 without its gray, which is kept for "other genres" and "no genre".
GENRE_COLOURS = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]


# --------------------------------------------------------------------------- items


def describe_items(item_map: pd.DataFrame, dataset: dict) -> pd.DataFrame:
    """Title and genres of every item column; an item without metadata is named by its id."""
    items = item_map.sort_values("column")[["column", "item"]].reset_index(drop=True)
    try:
        metadata = load_item_metadata(
            dataset["name"], raw_dir=dataset["raw_dir"], path=dataset["path"]
        )
    except DataError as error:
        # Titles only label the pictures; a model that trained fine deserves its report.
        logger.warning("no item titles, items are shown by id: %s", error)
        metadata = None
    if metadata is None:
        logger.info("%s: no item metadata; users are coloured by activity only", dataset["name"])
        return items.assign(title=items["item"].astype(str), genres="")
    repeated = metadata["item"].duplicated()
    if repeated.any():
        raise DataError(
            f"the item metadata of {dataset['name']} lists item(s) "
            f"{metadata.loc[repeated, 'item'].head(5).tolist()} more than once; "
            "keep one row per item."
        )
    described = items.merge(metadata, on="item", how="left")
    untitled = described["title"].isna()
    if untitled.any():
        logger.warning(
            "%d of %d items have no metadata row; they are shown by id",
            int(untitled.sum()),
            len(items),
        )
    described["title"] = described["title"].fillna(described["item"].astype(str))
    described["genres"] = described["genres"].fillna("")
    return described


def neighbours_of_popular_items(
    weights: dict, model_config: dict, train: sp.csr_matrix, items: pd.DataFrame, reporting: dict
) -> dict:
    """Nearest items of the most popular ones, so a person can judge if they make sense."""
    settings = reporting["item_neighbours"]
    model = _trained_model(weights, model_config, "cpu")
    popularity = np.asarray(train.sum(axis=0)).ravel()
    popular = np.argsort(-popularity, kind="stable")[: settings["n_items"]]
    neighbours = item_neighbours(
        decoder_item_vectors(model), popular.tolist(), settings["n_neighbours"]
    )
    titles = items["title"].to_numpy()
    table = pd.DataFrame(
        [
            {
                "item": items["item"].iat[query],
                "title": titles[query],
                "training_users": int(popularity[query]),
                "rank": rank + 1,
                "neighbour": items["item"].iat[neighbour],
                "neighbour_title": titles[neighbour],
                "cosine": round(float(cosine), 4),
            }
            for query, row_items, row_cosine in zip(
                popular, neighbours.items, neighbours.cosine, strict=True
            )
            for rank, (neighbour, cosine) in enumerate(
                zip(row_items.tolist(), row_cosine.tolist(), strict=True)
            )
        ]
    )
    return {"table": table, "markdown": _neighbours_markdown(table, settings["n_neighbours"])}


def _neighbours_markdown(table: pd.DataFrame, n_neighbours: int) -> str:
    lines = [
        "# Nearest items of the most popular items",
        "",
        "Items are compared by the cosine similarity of their rows in the decoder's output "
        "layer (the vectors that score them). Cosine in brackets.",
        "",
        "| item (training users) | "
        + " | ".join(str(r) for r in range(1, n_neighbours + 1))
        + " |",
        "|---|" + "---|" * n_neighbours,
    ]
    for _, rows in table.groupby("item", sort=False):
        first = rows.iloc[0]
        cells = [f"{_cell(r.neighbour_title)} ({r.cosine:.2f})" for r in rows.itertuples()]
        lines.append(
            f"| {_cell(first['title'])} ({first['training_users']}) | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- users


def encode_posteriors(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    reporting: dict,
) -> dict[str, Posterior]:
    """``q(z | x)`` of the training users and of the test users given their fold-in items.

    Empty for a model without an approximate posterior (Mult-DAE): the later nodes then
    say so in place of their pictures, so the rest of the run is still logged.
    """
    model = _trained_model(weights, model_config, resolve_device(reporting["device"]))
    if not isinstance(model, MultVAE):
        logger.warning(
            "%s has no approximate posterior: no user maps, traversal or KL plot",
            model_config["kind"],
        )
        return {}
    logger.info("encoding %d training and %d test users", train.shape[0], test_fold_in.shape[0])
    return {
        "train": encode_users(model, train, reporting["batch_size"]),
        "test": encode_users(model, test_fold_in, reporting["batch_size"]),
    }


def plot_user_maps(
    posteriors: dict[str, Posterior],
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    items: pd.DataFrame,
    model_config: dict,
    reporting: dict,
) -> dict[str, plt.Figure]:
    if not posteriors:
        return {split: _no_posterior_figure(model_config["kind"]) for split in ("train", "test")}
    return {
        "train": _user_map(posteriors["train"].mu, train, items, reporting, "training users"),
        "test": _user_map(
            posteriors["test"].mu,
            test_fold_in,
            items,
            reporting,
            "test users (encoded from fold-in items)",
        ),
    }


def _user_map(
    mu: torch.Tensor, history: sp.csr_matrix, items: pd.DataFrame, reporting: dict, who: str
) -> plt.Figure:
    max_genres = reporting["user_map"]["max_genres_in_legend"]
    if not 1 <= max_genres <= len(GENRE_COLOURS):
        raise ValueError(
            f"reporting.user_map.max_genres_in_legend must be 1..{len(GENRE_COLOURS)} "
            f"(distinguishable colours), got {max_genres}."
        )
    coordinates, axis_labels, method = _project(mu, reporting)
    genres = characteristic_genres(history, items, max_genres)
    n_panels = 1 if genres is None else 2
    figure, axes = plt.subplots(
        1, n_panels, figsize=(6.6 * n_panels, 5.4), squeeze=False, constrained_layout=True
    )
    marker_size = float(np.clip(4000 / len(coordinates), 2, 25))
    activity = np.diff(history.indptr)
    shown = axes[0, 0].scatter(
        coordinates[:, 0],
        coordinates[:, 1],
        c=np.maximum(activity, 1),
        cmap="viridis",
        norm=LogNorm(),
        s=marker_size,
        alpha=0.8,
        linewidths=0,
    )
    figure.colorbar(shown, ax=axes[0, 0], label="items in the user's history (log scale)")
    axes[0, 0].set_title("coloured by activity")
    if genres is not None:
        named = [g for g in genres.value_counts().index if g not in (OTHER_GENRES, NO_GENRE)]
        colours = {
            **dict(zip(named, GENRE_COLOURS, strict=False)),
            OTHER_GENRES: "lightgray",
            NO_GENRE: "black",
        }
        for genre in [g for g in [*named, OTHER_GENRES, NO_GENRE] if (genres == g).any()]:
            members = (genres == genre).to_numpy()
            colour = colours[genre]
            axes[0, 1].scatter(
                coordinates[members, 0],
                coordinates[members, 1],
                color=colour,
                s=marker_size,
                alpha=0.8,
                linewidths=0,
                label=f"{genre} ({members.sum()})",
            )
        axes[0, 1].legend(
            title="genre (users)",
            fontsize="small",
            loc="best",
            markerscale=max(1.0, 6 / marker_size**0.5),
        )
        axes[0, 1].set_title("coloured by favourite genre (most above its share among all users)")
    for axis in axes[0]:
        axis.set_xlabel(axis_labels[0])
        axis.set_ylabel(axis_labels[1])
    figure.suptitle(f"{len(coordinates)} {who}: encoder means μ, {method} to 2-D")
    return figure


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


def _project(mu: torch.Tensor, reporting: dict) -> tuple[np.ndarray, tuple[str, str], str]:
    method = reporting["user_map"]["projection"]
    if method == "pca":
        projection = principal_components_2d(mu)
        ratio = projection.explained_variance_ratio.tolist()
        labels = (f"PC1 ({ratio[0]:.0%} of variance)", f"PC2 ({ratio[1]:.0%} of variance)")
        return projection.coordinates.numpy(), labels, "PCA"
    logger.info("projecting %d users to 2-D with %s", mu.shape[0], method)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (mu.shape[0] - 1) / 3)
        embedding = TSNE(init="pca", perplexity=perplexity, random_state=reporting["seed"])
        return embedding.fit_transform(mu.numpy()), ("t-SNE 1", "t-SNE 2"), "t-SNE"
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise ValueError(
                "reporting.user_map.projection 'umap' needs umap-learn: `pip install umap-learn`, "
                "or choose pca or tsne."
            ) from None
        embedding = umap.UMAP(random_state=reporting["seed"])
        return embedding.fit_transform(mu.numpy()), ("UMAP 1", "UMAP 2"), "UMAP"
    raise ValueError(f"reporting.user_map.projection must be pca, tsne or umap, got {method!r}.")


def traverse_between_users(
    posteriors: dict[str, Posterior],
    weights: dict,
    model_config: dict,
    test_fold_in: sp.csr_matrix,
    user_map: pd.DataFrame,
    items: pd.DataFrame,
    reporting: dict,
) -> str:
    """Top items decoded between the two test users at opposite ends of the user map."""
    if not posteriors:
        return f"# Latent traversal\n\n{_no_posterior_text(model_config['kind'])}\n"
    settings = reporting["traversal"]
    mu = posteriors["test"].mu
    first_axis = principal_components_2d(mu).coordinates[:, 0]
    start, end = int(first_axis.argmin()), int(first_axis.argmax())
    seen = sorted(set(test_fold_in[start].indices) | set(test_fold_in[end].indices))
    model = _trained_model(weights, model_config, resolve_device(reporting["device"]))
    top = latent_traversal(
        model, mu[start], mu[end], settings["steps"], settings["top_k"], exclude=seen
    )
    test_users = user_map[user_map["split"] == "test"].sort_values("row")["user"].to_numpy()
    titles = items["title"].to_numpy()
    fractions = np.linspace(0.0, 1.0, settings["steps"])
    header = [f"t={t:.2f}" for t in fractions]
    header[0], header[-1] = "user A (t=0)", "user B (t=1)"
    lines = [
        "# Latent traversal between two test users",
        "",
        f"Top {settings['top_k']} items decoded at evenly spaced points z = (1−t)·μ_A + t·μ_B. "
        "A and B are the test users at the two ends of the first principal axis of the "
        f"test-user map: A = user {test_users[start]} ({test_fold_in[start].nnz} fold-in items), "
        f"B = user {test_users[end]} ({test_fold_in[end].nnz} fold-in items). Items either "
        f"of them has already seen ({len(seen)}) are excluded. **Bold**: not in the previous "
        "step's list.",
        "",
        "| rank | " + " | ".join(header) + " |",
        "|---:|" + "---|" * len(header),
    ]
    previous = [set()] + [set(step.tolist()) for step in top[:-1]]
    for rank in range(top.shape[1]):
        cells = []
        for step, before in zip(top, previous, strict=True):
            item = int(step[rank])
            title = _cell(titles[item])
            cells.append(f"**{title}**" if before and item not in before else title)
        lines.append(f"| {rank + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- posterior


def check_posterior_health(
    posteriors: dict[str, Posterior], model_config: dict, reporting: dict
) -> dict:
    """Per-dimension KL of the training users' posterior, and how many dimensions are active."""
    threshold = reporting["posterior"]["active_threshold_nats"]
    if not posteriors:
        return {
            "plot": _no_posterior_figure(model_config["kind"]),
            "summary": {
                "model": model_config["kind"],
                "reason": _no_posterior_text(model_config["kind"]),
            },
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
        "plot": _kl_bar_plot(kl.numpy(), threshold, active),
        "summary": summary,
        "metrics": {"latent/active_dimensions": {"value": active, "step": 0}},
    }


def _kl_bar_plot(kl: np.ndarray, threshold: float, active: int) -> plt.Figure:
    order = np.argsort(-kl, kind="stable")
    figure, axis = plt.subplots(figsize=(10, 4), constrained_layout=True)
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


# --------------------------------------------------------------------------- helpers


def _trained_model(weights: dict, model_config: dict, device) -> torch.nn.Module:
    model = build_model(model_config)
    model.load_state_dict(weights)
    return model.to(device).eval()


def _no_posterior_text(kind: str) -> str:
    return (
        f"The {kind} model has no approximate posterior q(z|x), so there is no latent map to draw."
    )


def _no_posterior_figure(kind: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(6, 1.5))
    axis.text(0.5, 0.5, _no_posterior_text(kind), ha="center", va="center", wrap=True)
    axis.set_axis_off()
    return figure


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|")
