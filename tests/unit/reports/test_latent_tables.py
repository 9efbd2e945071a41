"""The latent tables: item titles, neighbours of popular items and the traversal."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.settings import model_settings
from tests.unit.recommenders.test_latent import random_clicks, tiny_vae
from vaeops.recommenders.latent import encode_users
from vaeops.recommenders.models import build_model
from vaeops.reports.latent_tables import (
    describe_items,
    neighbours_markdown,
    popular_item_neighbours,
    traversal_markdown,
)

# Cosines: 0~1 10/√101 = 0.9950, 1~2 12/√505 = 0.5340, 0~2 1/√5 = 0.4472, 3 opposes 0.
VECTORS = torch.tensor([[1.0, 0.0], [10.0, 1.0], [1.0, 2.0], [-1.0, 0.0]])
ITEMS = pd.DataFrame(
    {
        "column": range(4),
        "item": [100, 101, 102, 103],
        "title": ["Zero", "One", "Two", "Three"],
        "genres": "",
    }
)
# Item popularity 1, 3, 2, 0: the most popular are items 1, then 2.
TRAIN = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 0]], dtype=np.float32))


def test_describe_items_names_movielens_items_and_falls_back_to_ids(ml100k_dir, tmp_path):
    item_map = pd.DataFrame({"item": [181, 50, 999_999], "column": [1, 0, 2]})
    described = describe_items(item_map, "ml-100k", raw_dir=str(tmp_path), path=str(ml100k_dir))
    assert described["column"].tolist() == [0, 1, 2]
    assert described["title"].tolist() == [
        "Star Wars (1977)",
        "Return of the Jedi (1983)",
        "999999",
    ]
    assert "Sci-Fi" in described["genres"].iat[0].split("|")
    assert described["genres"].iat[2] == ""

    custom = describe_items(item_map, "custom", raw_dir=str(tmp_path), path=None)
    assert custom["title"].tolist() == ["50", "181", "999999"]
    assert (custom["genres"] == "").all()


def test_neighbours_of_the_most_popular_items_by_hand():
    table = popular_item_neighbours(VECTORS, TRAIN, ITEMS, n_items=2, n_neighbours=2)
    assert table[["item", "training_users", "rank", "neighbour"]].values.tolist() == [
        [101, 3, 1, 100],
        [101, 3, 2, 102],
        [102, 2, 1, 101],
        [102, 2, 2, 100],
    ]
    assert table["cosine"].tolist() == pytest.approx(
        [10 / math.sqrt(101), 12 / math.sqrt(505), 12 / math.sqrt(505), 1 / math.sqrt(5)],
        abs=1e-4,
    )
    assert table["neighbour_title"].tolist() == ["Zero", "Two", "One", "Zero"]


def test_neighbours_markdown_has_one_row_per_popular_item_in_popularity_order():
    table = popular_item_neighbours(VECTORS, TRAIN, ITEMS, n_items=2, n_neighbours=2)
    [rows] = markdown_tables(neighbours_markdown(table))
    assert list(rows.items()) == [
        ("item (training users)", ["1", "2"]),
        ("One (3)", ["Zero (0.99)", "Two (0.53)"]),
        ("Two (2)", ["One (0.53)", "Zero (0.45)"]),
    ]
    piped = ITEMS.assign(title=["Zero", "One | Part 1", "Two", "Three"])
    table = popular_item_neighbours(VECTORS, TRAIN, piped, n_items=2, n_neighbours=2)
    rows = [line for line in neighbours_markdown(table).splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| One \\| Part 1 (3) "), "a '|' in a title must not split a cell"
    assert [row.count(" | ") for row in rows] == [2, 2, 2]


def test_traversal_runs_between_the_ends_of_the_first_principal_axis():
    model = tiny_vae()
    clicks = random_clicks(10, 30, 6)
    posterior = encode_users(model, clicks, batch_size=10)
    user_ids = [f"u{row}" for row in range(10)]
    titles = [f"movie {column}" for column in range(30)]
    markdown = traversal_markdown(model, {"test": posterior}, clicks, user_ids, titles, 3, 4)
    [rows] = markdown_tables(markdown)
    assert list(rows) == ["rank", "1", "2", "3", "4"]
    assert rows["rank"] == ["user A (t=0)", "t=0.50", "user B (t=1)"]
    assert not any(rows[rank][0].startswith("**") for rank in "1234"), "A has no previous step"
    assert "A = user u" in markdown and "(6 fold-in items)" in markdown
    # Each user saw 6 of 30 items; the two ends together at most 12.
    seen = int(markdown.split("already seen (")[1].split(")")[0])
    assert 6 <= seen <= 12


def test_traversal_of_a_model_without_posterior_says_why():
    model = build_model(model_settings("multdae", hidden_dims=[], latent_dim=8), 30)
    markdown = traversal_markdown(model, {}, random_clicks(4, 30, 3), ["a"] * 4, ["t"] * 30, 3, 4)
    assert markdown.startswith("# Latent traversal\n")
    assert "multdae model has no approximate posterior" in markdown
