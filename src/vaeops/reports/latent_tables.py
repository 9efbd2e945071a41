"""The latent space as tables a person reads: the nearest items of the most popular ones,
and the items decoded on the way from one user to another, named by their titles."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from vaeops.data.ingest import load_item_metadata
from vaeops.errors import DataError
from vaeops.recommenders.latent import (
    Posterior,
    item_neighbours,
    latent_traversal,
    no_posterior_text,
    principal_components_2d,
)

logger = logging.getLogger(__name__)


def describe_items(
    item_map: pd.DataFrame, dataset_name: str, raw_dir: str, path: str | None
) -> pd.DataFrame:
    """Title and genres of every item column; an item without metadata is named by its id."""
    items = item_map.sort_values("column")[["column", "item"]].reset_index(drop=True)
    try:
        metadata = load_item_metadata(dataset_name, raw_dir=raw_dir, path=path)
    except DataError as error:
        # Titles only label the pictures; a model that trained fine deserves its report.
        logger.warning("no item titles, items are shown by id: %s", error)
        metadata = None
    if metadata is None:
        logger.info("%s: no item metadata; users are coloured by activity only", dataset_name)
        return items.assign(title=items["item"].astype(str), genres="")
    repeated = metadata["item"].duplicated()
    if repeated.any():
        raise DataError(
            f"the item metadata of {dataset_name} lists item(s) "
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


def popular_item_neighbours(
    item_vectors: torch.Tensor,
    train: sp.csr_matrix,
    items: pd.DataFrame,
    n_items: int,
    n_neighbours: int,
) -> pd.DataFrame:
    """The ``n_neighbours`` nearest items of each of the ``n_items`` most popular training
    items, one row per (item, neighbour), so a person can judge if they make sense."""
    popularity = np.asarray(train.sum(axis=0)).ravel()
    popular = np.argsort(-popularity, kind="stable")[:n_items]
    neighbours = item_neighbours(item_vectors, popular.tolist(), n_neighbours)
    ids, titles = items["item"].to_numpy(), items["title"].to_numpy()
    return pd.DataFrame(
        [
            {
                "item": ids[query],
                "title": titles[query],
                "training_users": int(popularity[query]),
                "rank": rank + 1,
                "neighbour": ids[neighbour],
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


def neighbours_markdown(table: pd.DataFrame) -> str:
    """``popular_item_neighbours``' table with one row per popular item, most popular first."""
    cells = table.assign(
        cell=[
            f"{_cell(title)} ({cosine:.2f})"
            for title, cosine in zip(table["neighbour_title"], table["cosine"], strict=True)
        ]
    )
    queries = table.drop_duplicates("item")
    grid = cells.pivot(index="item", columns="rank", values="cell").loc[queries["item"]]
    grid.columns = [str(rank) for rank in grid.columns]
    grid.insert(
        0,
        "item (training users)",
        [
            f"{_cell(title)} ({users})"
            for title, users in zip(queries["title"], queries["training_users"], strict=True)
        ],
    )
    return (
        "# Nearest items of the most popular items\n\n"
        "Items are compared by the cosine similarity of their rows in the decoder's output "
        "layer (the vectors that score them). Cosine in brackets.\n\n"
        f"{_markdown(grid)}\n"
    )


def traversal_markdown(
    model: torch.nn.Module,
    posteriors: Mapping[str, Posterior],
    test_fold_in: sp.csr_matrix,
    test_user_ids: Sequence,
    titles: Sequence[str],
    steps: int,
    top_k: int,
) -> str:
    """Top items decoded between the two test users at opposite ends of the user map.

    A and B are the ends of the first principal axis of the test users' encoder means;
    items either has already seen are left out. Without posteriors (a model without
    ``q(z | x)``), a note saying why.
    """
    if not posteriors:
        return f"# Latent traversal\n\n{no_posterior_text(model.config.kind)}\n"
    mu = posteriors["test"].mu
    first_axis = principal_components_2d(mu).coordinates[:, 0]
    start, end = int(first_axis.argmin()), int(first_axis.argmax())
    seen = sorted(set(test_fold_in[start].indices) | set(test_fold_in[end].indices))
    top = latent_traversal(model, mu[start], mu[end], steps, top_k, exclude=seen)
    header = [f"t={t:.2f}" for t in np.linspace(0.0, 1.0, steps)]
    header[0], header[-1] = "user A (t=0)", "user B (t=1)"
    previous = [set()] + [set(step.tolist()) for step in top[:-1]]
    columns = {
        name: [
            f"**{_cell(titles[item])}**" if before and item not in before else _cell(titles[item])
            for item in step.tolist()
        ]
        for name, step, before in zip(header, top, previous, strict=True)
    }
    table = pd.DataFrame({"rank": range(1, top_k + 1), **columns})
    return (
        "# Latent traversal between two test users\n\n"
        f"Top {top_k} items decoded at evenly spaced points z = (1−t)·μ_A + t·μ_B. "
        "A and B are the test users at the two ends of the first principal axis of the "
        f"test-user map: A = user {test_user_ids[start]} ({test_fold_in[start].nnz} fold-in "
        f"items), B = user {test_user_ids[end]} ({test_fold_in[end].nnz} fold-in items). "
        f"Items either of them has already seen ({len(seen)}) are excluded. **Bold**: not in "
        "the previous step's list.\n\n"
        f"{_markdown(table)}\n"
    )


def _markdown(table: pd.DataFrame) -> str:
    # Cells are text already; number parsing would reformat a title such as "1984".
    return table.to_markdown(index=False, disable_numparse=True)


def _cell(text) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|")
