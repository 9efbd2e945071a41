"""`kedro run --pipeline benchmark` on real MovieLens 100K, with short training."""

import json

import numpy as np
import pytest

from vaeops.recommenders.metrics import Evaluation
from vaeops.pipelines.benchmark.nodes import benchmark_models, write_benchmark_report

ALL_MODELS = ["popularity", "ease", "itemknn", "mf", "multvae", "multdae"]
TABLE_METRICS = (
    "ndcg_at_100",
    "recall_at_20",
    "recall_at_50",
    "ndcg_at_20",
    "uncapped_recall_at_20",
)


@pytest.mark.e2e
def test_benchmark_scores_every_model_on_one_split_in_nested_mlflow_runs(
    run_kedro, kedro_project, nested_runs, ml100k_dir
):
    run_kedro("ingestion", dataset={"path": str(ml100k_dir)})
    run_kedro("preprocessing")
    run_kedro(
        "benchmark",
        training={"epochs": 4},
        benchmark={"baselines": {"mf": {"epochs": 2}}, "bootstrap_samples": 2000},
    )

    report = json.loads((kedro_project / "data/08_reporting/benchmark_report.json").read_text())
    assert list(report["models"]) == ALL_MODELS
    for name, values in report["models"].items():
        for metric in TABLE_METRICS:
            assert 0.0 <= values[metric] <= 1.0, (name, metric)
        assert values["train_seconds"] > 0
    assert report["models"]["ease"]["ndcg_at_100"] > report["models"]["popularity"]["ndcg_at_100"]

    assert set(report["comparisons"]) == set(ALL_MODELS) - {"multvae"}
    for other, comparison in report["comparisons"].items():
        total = (
            comparison["p_multvae_better"] + comparison["p_rope"] + comparison[f"p_{other}_better"]
        )
        assert total == pytest.approx(1.0)
        assert comparison["n_users"] == report["n_evaluated_users"]
        assert comparison["mean_difference"] == pytest.approx(
            report["models"]["multvae"]["ndcg_at_100"] - report["models"][other]["ndcg_at_100"]
        )
        assert "Bayesian bootstrap" in comparison["method"]

    markdown = (kedro_project / "data/08_reporting/benchmark_report.md").read_text()
    for name in ALL_MODELS:
        assert f"| {name} | " in markdown
    assert "P(multvae better)" in markdown and "Bayesian bootstrap" in markdown

    client, parent, children = nested_runs("benchmark")
    assert set(children) == set(ALL_MODELS)
    for name, child in children.items():
        assert child.data.metrics["test/ndcg_at_100"] == pytest.approx(
            report["models"][name]["ndcg_at_100"]
        )
        assert child.data.metrics["train_seconds"] == pytest.approx(
            report["models"][name]["train_seconds"]
        )
    assert children["multdae"].data.params["model.kind"] == "multdae"
    assert children["multdae"].data.params["l2_penalty"] == "2e-05"
    assert children["ease"].data.params["l2"] == "200.0"
    assert len(client.get_metric_history(children["multvae"].info.run_id, "val/ndcg_at_100")) == 4
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "benchmark")}
    assert artifacts == {"benchmark/benchmark_report.json", "benchmark/benchmark_report.md"}


def _evaluation(ndcg: list[float], rows: list[int]) -> dict:
    values = np.array(ndcg)
    per_user = {metric: values for metric in TABLE_METRICS}
    return {"evaluation": Evaluation(np.array(rows), per_user, 0), "train_seconds": 1.0}


SETTINGS = {
    "reference": "multvae",
    "headline_metric": "ndcg_at_100",
    "table_metrics": {metric: metric for metric in TABLE_METRICS},
    "rope": 0.01,
    "bootstrap_samples": 1000,
    "bootstrap_seed": 0,
}


def test_a_model_ahead_on_every_user_is_better_with_certainty():
    results = {
        "multvae": _evaluation([0.5, 0.6, 0.7], [0, 1, 2]),
        "popularity": _evaluation([0.1, 0.2, 0.3], [0, 1, 2]),
    }
    report = write_benchmark_report(results, SETTINGS)["report"]
    comparison = report["comparisons"]["popularity"]
    assert comparison["p_multvae_better"] == 1.0
    assert comparison["mean_difference"] == pytest.approx(0.4)


def test_models_scored_on_different_users_are_not_paired():
    results = {
        "multvae": _evaluation([0.5, 0.6], [0, 1]),
        "popularity": _evaluation([0.1, 0.2], [0, 2]),
    }
    with pytest.raises(ValueError, match="different test users"):
        write_benchmark_report(results, SETTINGS)


def test_an_unconfigured_model_name_fails_before_training():
    settings = {
        **SETTINGS,
        "models": {"multvae": True, "lightgcn": True},
        "autoencoders": {"multvae": {}},
        "evaluation": {"ks": [20, 50, 100], "batch_size": 10, "device": "cpu"},
    }
    with pytest.raises(ValueError, match="lightgcn"):
        benchmark_models(None, None, None, None, None, settings, {})


def test_published_rows_are_marked_and_fill_only_their_own_columns():
    results = {
        "multvae": _evaluation([0.5, 0.6], [0, 1]),
        "popularity": _evaluation([0.1, 0.2], [0, 1]),
    }
    published = {
        "source": "He et al. 2020",
        "models": {"lightgcn": {"uncapped_recall_at_20": 0.183, "ndcg_at_20": 0.1554}},
    }
    output = write_benchmark_report(results, {**SETTINGS, "published": published})
    assert output["report"]["published"] == published
    row = next(line for line in output["report_markdown"].splitlines() if "lightgcn" in line)
    assert row == "| lightgcn (**published**) | — | — | — | 0.1554 | 0.1830 | — |"
    assert "not measured here; source: He et al. 2020" in output["report_markdown"]
    assert "min(K, n test items)" in output["report_markdown"]


def test_a_published_value_without_a_column_fails_before_training():
    settings = {
        **SETTINGS,
        "models": {"multvae": True, "popularity": True},
        "autoencoders": {"multvae": {}},
        "evaluation": {"ks": [20, 50, 100], "batch_size": 10, "device": "cpu"},
        "published": {"source": "x", "models": {"lightgcn": {"recall_at_40": 0.2}}},
    }
    with pytest.raises(ValueError, match="lightgcn.recall_at_40"):
        benchmark_models(None, None, None, None, None, settings, {})


def test_a_model_list_instead_of_switches_says_how_to_select_models():
    settings = {**SETTINGS, "models": ["multvae", "popularity"]}
    with pytest.raises(ValueError, match="benchmark.models.ease=false"):
        benchmark_models(None, None, None, None, None, settings, {})


def test_switched_off_models_are_skipped_and_the_reference_must_stay_on():
    settings = {
        **SETTINGS,
        "models": {"popularity": True, "multvae": False},
        "autoencoders": {"multvae": {}},
        "evaluation": {"ks": [20, 50, 100], "batch_size": 10, "device": "cpu"},
    }
    with pytest.raises(
        ValueError, match=r"must be one of the selected benchmark.models \(\['popularity'\]\)"
    ):
        benchmark_models(None, None, None, None, None, settings, {})
