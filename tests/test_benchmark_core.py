"""The benchmark's core: which models run, fit and score on the same users, the report."""

from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp

from tests.markdown_tables import markdown_tables
from vaeops.errors import DataError
from vaeops.recommenders.benchmark import (
    benchmark_report,
    fit_and_score,
    load_given_split,
    selected_models,
)
from vaeops.recommenders.metrics import Evaluation
from vaeops.recommenders.models import ModelConfig
from vaeops.recommenders.training import TrainingConfig, train_autoencoder

TABLE_METRICS = (
    "ndcg_at_100",
    "recall_at_20",
    "recall_at_50",
    "ndcg_at_20",
    "uncapped_recall_at_20",
)
SETTINGS = {
    "reference": "multvae",
    "headline_metric": "ndcg_at_100",
    "table_metrics": {metric: metric for metric in TABLE_METRICS},
    "rope": 0.01,
    "bootstrap_samples": 1000,
    "bootstrap_seed": 0,
    "autoencoders": {"multvae": {}},
    "evaluation": {"ks": [20, 50, 100], "batch_size": 10, "device": "cpu"},
}


def csr(rows: list[list[int]], n_items: int = 4) -> sp.csr_matrix:
    matrix = sp.lil_matrix((len(rows), n_items), dtype=np.float32)
    for row, columns in enumerate(rows):
        for column in columns:
            matrix[row, column] = 1.0
    return matrix.tocsr()


# Item popularity in training: 3, 2, 1, 0 clicks. Popularity ranks user 0's hidden
# item 1st (item 0 is excluded) and user 1's hidden item 3 behind items 0 and 2.
TRAIN = csr([[0, 1, 2], [0, 1], [0]])
FOLD_IN = csr([[0], [1]])
TARGET = csr([[1], [3]])


def test_each_model_is_fitted_scored_on_the_same_users_and_logged_in_its_own_run():
    trained = []

    def train_multdae(name: str, settings: dict):
        result = train_autoencoder(
            ModelConfig(n_items=4, **settings["model"]),
            TRAIN,
            None,
            None,
            TrainingConfig(epochs=2, batch_size=2, device="cpu"),
        )
        trained.append((name, settings, result))
        return result

    runs = []

    @contextmanager
    def recording_run(name: str, settings: dict):
        logged = {}
        runs.append((name, settings, logged))
        yield logged.update

    multdae = {"model": {"kind": "multdae", "hidden_dims": [], "latent_dim": 2}}
    results = fit_and_score(
        {"popularity": {}, "multdae": multdae},
        TRAIN,
        FOLD_IN,
        TARGET,
        {"ks": [1, 3], "batch_size": 1, "device": "cpu"},
        "ndcg_at_3",
        train_multdae,
        recording_run,
    )

    assert list(results) == ["popularity", "multdae"]
    assert [(name, settings) for name, settings, _ in trained] == [("multdae", multdae)]
    popularity = results["popularity"]["evaluation"]
    assert popularity.per_user["ndcg_at_1"].tolist() == [1.0, 0.0]
    assert popularity.per_user["ndcg_at_3"] == pytest.approx([1.0, 0.5])
    assert results["multdae"]["evaluation"].rows.tolist() == [0, 1]
    assert results["multdae"]["train_seconds"] == trained[0][2].seconds

    assert [(name, settings) for name, settings, _ in runs] == [
        ("popularity", {}),
        ("multdae", multdae),
    ]
    for name, _, logged in runs:
        summary = results[name]["evaluation"].summary()
        assert logged == {
            **{f"test/{metric}": value for metric, value in summary.items()},
            "train_seconds": results[name]["train_seconds"],
        }


def test_switched_on_models_are_selected_in_table_order():
    settings = {**SETTINGS, "models": {"ease": True, "mf": False, "multvae": True}}
    assert selected_models(settings) == ["ease", "multvae"]


def test_an_unconfigured_model_name_fails_before_training():
    settings = {**SETTINGS, "models": {"multvae": True, "lightgcn": True}}
    with pytest.raises(ValueError, match="lightgcn"):
        selected_models(settings)


def test_a_published_value_without_a_column_fails_before_training():
    settings = {
        **SETTINGS,
        "models": {"multvae": True, "popularity": True},
        "published": {"source": "x", "models": {"lightgcn": {"recall_at_40": 0.2}}},
    }
    with pytest.raises(ValueError, match="lightgcn.recall_at_40"):
        selected_models(settings)


def test_a_model_list_instead_of_switches_says_how_to_select_models():
    settings = {**SETTINGS, "models": ["multvae", "popularity"]}
    with pytest.raises(ValueError, match="benchmark.models.ease=false"):
        selected_models(settings)


def test_switched_off_models_are_skipped_and_the_reference_must_stay_on():
    settings = {**SETTINGS, "models": {"popularity": True, "multvae": False}}
    with pytest.raises(
        ValueError, match=r"must be one of the selected benchmark.models \(\['popularity'\]\)"
    ):
        selected_models(settings)


def _evaluation(ndcg: list[float], rows: list[int]) -> dict:
    values = np.array(ndcg)
    per_user = {metric: values for metric in TABLE_METRICS}
    return {"evaluation": Evaluation(np.array(rows), per_user, 0), "train_seconds": 1.0}


def test_a_model_ahead_on_every_user_is_better_with_certainty():
    results = {
        "multvae": _evaluation([0.5, 0.6, 0.7], [0, 1, 2]),
        "popularity": _evaluation([0.1, 0.2, 0.3], [0, 1, 2]),
    }
    output = benchmark_report(results, SETTINGS)
    comparison = output["report"]["comparisons"]["popularity"]
    assert comparison["p_multvae_better"] == 1.0
    assert comparison["mean_difference"] == pytest.approx(0.4)
    models, comparisons = markdown_tables(output["report_markdown"])
    assert models["model"] == [*TABLE_METRICS, "train seconds"]
    assert models["multvae"] == ["0.6000"] * len(TABLE_METRICS) + ["1.0"]
    assert comparisons == {
        "other model": [
            "P(multvae better)",
            "P(equivalent)",
            "P(other better)",
            "mean difference (multvae − other)",
        ],
        "popularity": ["1.000", "0.000", "0.000", "+0.4000"],
    }


def test_models_scored_on_different_users_are_not_paired():
    results = {
        "multvae": _evaluation([0.5, 0.6], [0, 1]),
        "popularity": _evaluation([0.1, 0.2], [0, 2]),
    }
    with pytest.raises(DataError, match="different test users"):
        benchmark_report(results, SETTINGS)


def test_published_rows_are_marked_and_fill_only_their_own_columns():
    results = {
        "multvae": _evaluation([0.5, 0.6], [0, 1]),
        "popularity": _evaluation([0.1, 0.2], [0, 1]),
    }
    published = {
        "source": "He et al. 2020",
        "models": {"lightgcn": {"uncapped_recall_at_20": 0.183, "ndcg_at_20": 0.1554}},
    }
    output = benchmark_report(results, {**SETTINGS, "published": published})
    assert output["report"]["published"] == published
    models, _ = markdown_tables(output["report_markdown"])
    assert models["lightgcn (**published**)"] == ["—", "—", "—", "0.1554", "0.1830", "—"]
    assert "not measured here; source: He et al. 2020" in output["report_markdown"]
    assert "min(K, n test items)" in output["report_markdown"]


def test_a_dataset_without_a_published_split_is_refused():
    with pytest.raises(DataError, match="kedro run --pipeline benchmark"):
        load_given_split({"name": "ml-100k", "path": None, "raw_dir": "data/01_raw"})
