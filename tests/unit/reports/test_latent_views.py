"""The latent figures: favourite genres, 2-D projections, user maps and posterior health."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from vaeops.recommenders.latent import Posterior
from vaeops.reports.latent_views import (
    NO_GENRE,
    OTHER_GENRES,
    characteristic_genres,
    posterior_health,
    project_to_2d,
    user_map,
    user_maps,
)

GENRES = pd.DataFrame({"genres": ["Drama", "Drama", "Sci-Fi", "Drama"]})
HISTORY = sp.csr_matrix(
    np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 1]], dtype=np.float32)
)
# Four users in a line, spread enough for PCA to find two axes.
MU = torch.tensor([[0.0, 0.0], [1.0, 0.1], [2.0, -0.1], [3.0, 0.0]])


def test_characteristic_genre_is_the_one_most_above_its_overall_share():
    # Overall: Drama 5 of 6 clicks, Sci-Fi 1 of 6. User 1 watches each once, so Sci-Fi
    # (1/2 against 1/6) stands out although Drama ties with it in plain counts.
    genres = characteristic_genres(HISTORY, GENRES, max_genres=8)
    assert genres.tolist() == ["Drama", "Sci-Fi", NO_GENRE, "Drama"]
    assert characteristic_genres(HISTORY, GENRES, max_genres=1).tolist() == [
        "Drama",
        OTHER_GENRES,
        NO_GENRE,
        "Drama",
    ]
    assert characteristic_genres(HISTORY, GENRES.assign(genres=""), max_genres=8) is None


def test_favourite_genre_of_three_users_with_multi_genre_items():
    items = pd.DataFrame({"genres": ["Comedy|Romance", "Comedy", "Horror"]})
    history = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=np.float32))
    # Genre clicks: user 0 Comedy 1 Romance 1; user 1 Comedy 1; user 2 Comedy 1 Horror 1.
    # Overall shares of the 5 genre clicks: Comedy 3/5, Romance 1/5, Horror 1/5. User 0:
    # Romance 1/2 - 1/5 = 0.3 beats Comedy 1/2 - 3/5 = -0.1; user 1: Comedy 1 - 3/5;
    # user 2: Horror 0.3 beats Comedy -0.1, though Comedy is as frequent in both.
    genres = characteristic_genres(history, items, max_genres=8)
    assert genres.tolist() == ["Romance", "Comedy", "Horror"]


def test_pca_projection_labels_its_axes_with_the_variance_they_keep():
    # Squared spread 2² + 2² = 8 along x and 1² + 1² = 2 along y: 80% and 20%.
    cross = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    coordinates, labels, method = project_to_2d(cross, "pca", seed=0)
    assert method == "PCA"
    assert labels == ("PC1 (80% of variance)", "PC2 (20% of variance)")
    np.testing.assert_allclose(np.abs(coordinates), np.abs(cross.numpy()), atol=1e-6)
    with pytest.raises(ValueError, match="pca, tsne or umap, got 'mds'"):
        project_to_2d(MU, "mds", seed=0)


def test_user_map_has_a_genre_panel_only_when_items_have_genres():
    def panel_titles(figure):
        return [axis.get_title() for axis in figure.axes if axis.get_title()]

    with_genres = user_map(MU, HISTORY, GENRES, "pca", 8, 0, "test users")
    titles = panel_titles(with_genres)
    assert titles[0] == "coloured by activity" and titles[1].startswith("coloured by favourite")
    legend = with_genres.axes[1].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "Drama (2)",
        "Sci-Fi (1)",
        "no genre (1)",
    ]
    assert with_genres.get_suptitle() == "4 test users: encoder means μ, PCA to 2-D"
    # Every title lies inside the figure, not clipped at its edge.
    renderer = FigureCanvasAgg(with_genres).get_renderer()
    with_genres.draw(renderer)
    width = with_genres.bbox.width
    for axis in with_genres.axes:
        if axis.get_title():
            extent = axis.title.get_window_extent(renderer)
            assert 0 <= extent.x0 and extent.x1 <= width, axis.get_title()

    without = user_map(MU, HISTORY, GENRES.assign(genres=""), "pca", 8, 0, "test users")
    assert panel_titles(without) == ["coloured by activity"]
    with pytest.raises(ValueError, match="max_genres_in_legend must be 1..9"):
        user_map(MU, HISTORY, GENRES, "pca", 10, 0, "test users")


def test_a_model_without_posterior_gets_a_note_in_place_of_each_map():
    maps = user_maps({}, {"train": HISTORY, "test": HISTORY}, GENRES, "pca", 8, 0, "multdae")
    assert list(maps) == ["train", "test"]
    for figure in maps.values():
        [note] = figure.axes[0].texts
        assert "multdae model has no approximate posterior" in note.get_text()


def test_posterior_health_counts_dimensions_by_hand():
    # dim 0: users give KL 0.5 and 4.5 (mean 2.5); dim 1 equals the prior (KL 0).
    posterior = Posterior(mu=torch.tensor([[1.0, 0.0], [3.0, 0.0]]), logvar=torch.zeros(2, 2))
    health = posterior_health({"train": posterior}, "multvae", threshold=0.01)
    assert health["metrics"] == {"latent/active_dimensions": {"value": 1, "step": 0}}
    summary = health["summary"]
    assert summary["active_dimensions"] == 1 and summary["latent_dim"] == 2
    assert summary["n_users"] == 2
    assert summary["kl_per_dimension_nats"] == pytest.approx([2.5, 0.0])
    assert math.isclose(summary["total_kl_nats"], 2.5)
    axis = health["plot"].axes[0]
    assert axis.get_title().startswith("Posterior health: 1 of 2")
    assert [text.get_text() for text in axis.get_legend().get_texts()] == [
        "threshold 0.01 nats",
        "active (1)",
        "collapsed (1)",
    ]

    none = posterior_health({}, "multdae", threshold=0.01)
    assert none["metrics"] == {} and none["summary"]["model"] == "multdae"
    assert "no approximate posterior" in none["summary"]["reason"]
