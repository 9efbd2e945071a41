"""The reporting pipeline's nodes on a planted dataset (test_notebook.py runs it end to
end on ML-100K); the views themselves are tested in tests/unit/reports/."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers.settings import shipped, training_settings
from tests.unit.recommenders.test_latent import two_cluster_clicks
from vaeops.data.settings import DatasetParameters
from vaeops.pipelines.reporting.nodes import (
    check_posterior_health,
    encode_posteriors,
    neighbours_of_popular_items,
    plot_user_maps,
    traverse_between_users,
)
from vaeops.recommenders.latent import count_active_dimensions, kl_per_dimension
from vaeops.recommenders.models import saved_config
from vaeops.recommenders.settings import ReportingParameters, UserMapParameters
from vaeops.recommenders.training import train_autoencoder

DATASET = DatasetParameters.model_validate(shipped()["dataset"])
REPORTING = ReportingParameters.model_validate(
    {
        "device": "cpu",
        "batch_size": 64,
        "seed": 1,
        "user_map": {"projection": "pca", "max_genres_in_legend": 8},
        "item_neighbours": {"n_items": 4, "n_neighbours": 3},
        "traversal": {"steps": 4, "top_k": 5},
        "posterior": {"active_threshold_nats": 0.01},
    }
)
LATENT_DIM = 4


@pytest.fixture(scope="module")
def planted():
    """A Mult-VAE trained on two disjoint item clusters, with named, genred items."""
    train, test = two_cluster_clicks(n_users=120, seed=0), two_cluster_clicks(n_users=20, seed=1)
    config = training_settings(
        {"hidden_dims": [16], "latent_dim": LATENT_DIM},
        epochs=2,
        batch_size=60,
        validation_k=5,
        eval_batch_size=50,
        seed=1,
        device="cpu",
    )
    result = train_autoencoder(config, train, test, test)
    items = pd.DataFrame(
        {
            "column": range(20),
            "item": range(100, 120),
            "title": [f"movie {i} | part {i % 3}" for i in range(20)],
            "genres": ["Drama"] * 10 + ["Sci-Fi|Drama"] * 10,
        }
    )
    user_map = pd.DataFrame(
        {"user": [f"u{i}" for i in range(20)], "split": "test", "row": range(20)}
    )
    return {
        "weights": result.model.state_dict(),
        "config": saved_config(result.model),
        "train": train,
        "test": test,
        "items": items,
        "user_map": user_map,
    }


def test_item_neighbour_table_lists_popular_items_with_titles(planted):
    result = neighbours_of_popular_items(
        planted["weights"],
        planted["config"],
        planted["train"],
        planted["items"],
        REPORTING,
        DATASET,
    )
    table = result["table"]
    assert len(table) == 4 * 3
    assert table.groupby("item")["rank"].apply(list).map(lambda ranks: ranks == [1, 2, 3]).all()
    popularity = np.asarray(planted["train"].sum(axis=0)).ravel()
    assert (
        table.drop_duplicates("item")["training_users"].tolist()
        == sorted(popularity, reverse=True)[:4]
    )
    assert not (table["item"] == table["neighbour"]).any()
    markdown = result["markdown"].splitlines()
    rows = [line for line in markdown if line.startswith("| movie")]
    assert len(rows) == 4
    assert "movie" in rows[0] and "\\| part" in rows[0], "a '|' in a title must not split the cell"


def test_latent_nodes_draw_maps_traversal_and_posterior_health(planted):
    posteriors = encode_posteriors(
        planted["weights"], planted["config"], planted["train"], planted["test"], REPORTING
    )
    assert posteriors["train"].mu.shape == (120, LATENT_DIM)
    assert posteriors["test"].logvar.shape == (20, LATENT_DIM)

    maps = plot_user_maps(
        posteriors,
        planted["train"],
        planted["test"],
        planted["items"],
        planted["config"],
        REPORTING,
    )
    for figure in maps.values():
        titles = [axis.get_title() for axis in figure.axes]
        assert "coloured by activity" in titles
        assert any(title.startswith("coloured by favourite genre") for title in titles)
        assert figure.axes[0].get_xlabel().startswith("PC1")

    traversal = traverse_between_users(
        posteriors,
        planted["weights"],
        planted["config"],
        planted["test"],
        planted["user_map"],
        planted["items"],
        REPORTING,
        DATASET,
    )
    table = [line for line in traversal.splitlines() if line.startswith("| ")]
    assert table[0].count("|") == 4 + 2, "one column per step plus the rank"
    assert len(table) == 1 + 5, "the header, then one row per rank"
    assert "user A (t=0)" in table[0] and "user B (t=1)" in table[0]

    health = check_posterior_health(posteriors, planted["config"], REPORTING)
    expected = count_active_dimensions(kl_per_dimension(posteriors["train"]), 0.01)
    assert health["metrics"] == {"latent/active_dimensions": {"value": expected, "step": 0}}
    assert health["summary"]["active_dimensions"] == expected
    assert len(health["summary"]["kl_per_dimension_nats"]) == LATENT_DIM
    assert (
        health["plot"]
        .axes[0]
        .get_title()
        .startswith(f"Posterior health: {expected} of {LATENT_DIM}")
    )


def test_a_model_without_posterior_gets_explanations_instead_of_pictures(planted):
    settings = training_settings(
        {"kind": "multdae", "hidden_dims": [], "latent_dim": 8},
        epochs=1,
        batch_size=60,
        validation_k=5,
        eval_batch_size=50,
        seed=1,
        device="cpu",
    )
    result = train_autoencoder(settings, planted["train"], planted["test"], planted["test"])
    weights, config = result.model.state_dict(), saved_config(result.model)
    posteriors = encode_posteriors(weights, config, planted["train"], planted["test"], REPORTING)
    assert posteriors == {}
    health = check_posterior_health(posteriors, config, REPORTING)
    assert health["metrics"] == {}
    assert "multdae" in health["summary"]["reason"]
    traversal = traverse_between_users(
        posteriors,
        weights,
        config,
        planted["test"],
        planted["user_map"],
        planted["items"],
        REPORTING,
        DATASET,
    )
    assert "no approximate posterior" in traversal
    neighbours = neighbours_of_popular_items(
        weights, config, planted["train"], planted["items"], REPORTING, DATASET
    )
    assert len(neighbours["table"]) == 4 * 3


def test_an_unknown_projection_is_reported_with_the_valid_ones(planted):
    posteriors = encode_posteriors(
        planted["weights"], planted["config"], planted["train"], planted["test"], REPORTING
    )
    # The schema refuses it first; the core refuses it too, when called directly.
    unknown = UserMapParameters.model_construct(projection="mds", max_genres_in_legend=8)
    bad = REPORTING.model_copy(update={"user_map": unknown})
    with pytest.raises(ValueError, match="pca, tsne or umap"):
        plot_user_maps(
            posteriors, planted["train"], planted["test"], planted["items"], planted["config"], bad
        )
