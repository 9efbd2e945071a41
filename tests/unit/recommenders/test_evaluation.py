"""A trained model beside popularity: scores, metric names, report, table and per-user rows."""

import math

import numpy as np
import pytest
import torch

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.matrices import csr
from tests.helpers.settings import model_settings
from vaeops.recommenders.evaluation import (
    evaluate_beside_popularity,
    named_metrics,
    per_user_frame,
    report,
)
from vaeops.recommenders.metrics import Evaluation, evaluate
from vaeops.recommenders.models import build_model, load_model, saved_config
from vaeops.recommenders.settings import EvaluationParameters
from vaeops.reports.evaluation import markdown_table

# Item popularity in training: 3, 2, 1, 0 clicks, so popularity ranks items 0, 1, 2, 3.
TRAIN = csr([[0, 1, 2], [0, 1], [0]])
# User 0 has item 0 and hides item 1 (ranked 1st once 0 is excluded); user 1 has
# item 1 and hides item 3 (ranked 3rd after items 0 and 2); user 2 hides nothing.
FOLD_IN = csr([[0], [1], [2]])
TARGET = csr([[1], [3], []])


def untrained_weights() -> tuple[dict, dict]:
    torch.manual_seed(0)
    model = build_model(model_settings("multdae", hidden_dims=[], latent_dim=2), 4)
    return model.state_dict(), saved_config(model)


def test_popularity_is_scored_beside_the_model_on_the_same_users():
    weights, config = untrained_weights()
    results = evaluate_beside_popularity(
        weights,
        config,
        TRAIN,
        FOLD_IN,
        TARGET,
        EvaluationParameters(ks=[1, 3], batch_size=2, device="cpu"),
    )
    assert list(results) == ["multdae", "popularity"]
    popularity = results["popularity"]
    assert popularity.rows.tolist() == [0, 1]
    assert popularity.n_users_without_targets == 1
    assert popularity.per_user["ndcg_at_1"].tolist() == [1.0, 0.0]
    assert popularity.per_user["ndcg_at_3"] == pytest.approx([1.0, 1 / math.log2(4)])
    assert popularity.per_user["recall_at_3"].tolist() == [1.0, 1.0]

    model = load_model(config, weights)
    with torch.no_grad():
        expected = evaluate(model.score, FOLD_IN, TARGET, ks=[1, 3], batch_size=3)
    assert results["multdae"].rows.tolist() == [0, 1]
    for metric, values in expected.per_user.items():
        assert results["multdae"].per_user[metric] == pytest.approx(values)


def test_the_headline_model_is_test_and_baselines_keep_their_names():
    summaries = {
        "multvae": {"ndcg_at_10": 0.4, "recall_at_10": 0.5},
        "popularity": {"ndcg_at_10": 0.2},
    }
    assert named_metrics(summaries, headline="multvae") == {
        "test/ndcg_at_10": 0.4,
        "test/recall_at_10": 0.5,
        "popularity/ndcg_at_10": 0.2,
    }


def evaluation(rows: list[int], ndcg: list[float], without_targets: int = 1) -> Evaluation:
    return Evaluation(np.array(rows), {"ndcg_at_10": np.array(ndcg)}, without_targets)


def test_the_report_counts_users_and_averages_each_model():
    results = {
        "multvae": evaluation([0, 2], [0.5, 1.0]),
        "popularity": evaluation([0, 2], [0.0, 0.5]),
    }
    assert report(results, n_test_users=3) == {
        "n_test_users": 3,
        "n_evaluated_users": 2,
        "n_users_without_targets": 1,
        "models": {"multvae": {"ndcg_at_10": 0.75}, "popularity": {"ndcg_at_10": 0.25}},
    }


def test_the_markdown_table_has_a_row_per_model_and_four_decimals():
    table = markdown_table(
        {
            "multvae": {"ndcg_at_10": 0.75, "recall_at_10": 1 / 3},
            "popularity": {"ndcg_at_10": 0.25, "recall_at_10": 0.0},
        }
    )
    assert markdown_tables(table) == [
        {
            "model": ["ndcg_at_10", "recall_at_10"],
            "multvae": ["0.7500", "0.3333"],
            "popularity": ["0.2500", "0.0000"],
        }
    ]


def test_per_user_rows_carry_the_original_user_ids_of_the_evaluated_rows():
    results = {
        "multvae": evaluation([0, 2], [0.5, 1.0]),
        "popularity": evaluation([0, 2], [0.0, 0.5]),
    }
    frame = per_user_frame(results, np.array(["anna", "bob", "cleo"]))
    assert frame.to_dict("list") == {
        "model": ["multvae", "multvae", "popularity", "popularity"],
        "user": ["anna", "cleo", "anna", "cleo"],
        "ndcg_at_10": [0.5, 1.0, 0.0, 0.5],
    }
