"""`kedro run --pipeline benchmark` on real MovieLens 100K, with short training."""

import json

import pandas as pd
import pytest

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.mlflow_store import assert_records_its_data
from tests.helpers.settings import shipped

ALL_MODELS = ["popularity", "ease", "itemknn", "mf", "multvae", "multdae", "recvae"]
AUTOENCODERS = ["multvae", "multdae", "recvae"]
TABLE_METRICS = tuple(shipped()["benchmark"]["table_metrics"])


@pytest.mark.e2e
def test_benchmark_scores_every_model_on_one_split_in_nested_mlflow_runs(
    run_kedro, kedro_project, nested_runs, ml100k_dir
):
    run_kedro("ingestion", dataset={"path": str(ml100k_dir)})
    run_kedro("preprocessing")
    run_kedro(
        "benchmark",
        training={"epochs": 4},
        benchmark={
            "baselines": {"mf": {"epochs": 2}, "ease": {"l2": [50.0, 500.0]}},
            "autoencoder_overrides": {"recvae": {"epochs": 2}},  # 4 passes an epoch
            "bootstrap_samples": 2000,
        },
    )

    report = json.loads((kedro_project / "data/08_reporting/benchmark_report.json").read_text())
    assert list(report["models"]) == ALL_MODELS
    for name, values in report["models"].items():
        for metric in TABLE_METRICS:
            assert 0.0 <= values[metric] <= 1.0, (name, metric)
        assert values["train_seconds"] > 0
    assert report["models"]["ease"]["ndcg_at_100"] > report["models"]["popularity"]["ndcg_at_100"]
    assert report["protocol"]["validation_users"] == 93 and report["protocol"]["refit"] is False
    choices = report["choices"]
    assert [value["l2"] for value in choices["ease"]["grid"]] == [50.0, 500.0]
    assert [value["k"] for value in choices["itemknn"]["grid"]] == [50, 100, 200]
    best = max(choices["ease"]["grid"], key=lambda value: value["validation_ndcg_at_100"])
    assert choices["ease"]["chosen"]["l2"] == best["l2"]
    assert choices["mf"] == choices["popularity"] == {}  # nothing to choose
    epochs = {"multvae": 4, "multdae": 4, "recvae": 2}
    for name in AUTOENCODERS:
        assert 1 <= choices[name]["kept_epoch"] <= choices[name]["stopped_epoch"] == epochs[name]
        assert choices[name]["precision"] in ("bf16", "fp32")
    assert set(report["against_ease"]) == set(AUTOENCODERS)
    # The headline autoencoder is picked on validation, never on test.
    by_validation = {name: choices[name]["validation_score"] for name in AUTOENCODERS}
    assert report["best_autoencoder"] == max(by_validation, key=by_validation.get)

    assert set(report["comparisons"]) == set(ALL_MODELS) - {"multvae"}
    for other, comparison in report["comparisons"].items():
        total = (
            comparison["p_multvae_better"] + comparison["p_rope"] + comparison[f"p_{other}_better"]
        )
        assert total == pytest.approx(1.0)
        assert comparison["n_users"] == report["n_evaluated_users"]
        # float32 per-user scores: a mean of differences and a difference of means agree
        # to float32's precision, not to pytest's default 1e-6 relative.
        assert comparison["mean_difference"] == pytest.approx(
            report["models"]["multvae"]["ndcg_at_100"] - report["models"][other]["ndcg_at_100"],
            abs=1e-6,
        )
        assert "Bayesian bootstrap" in comparison["method"]

    markdown = (kedro_project / "data/08_reporting/benchmark_report.md").read_text()
    title, _, provenance = markdown.splitlines()[:3]
    assert title == "# Benchmark of every model · ml-100k"
    assert provenance.startswith("MLflow run ") and "untracked" not in provenance
    models = markdown_tables(markdown)[0]
    for name in ALL_MODELS:
        assert models[name][0] == f"{report['models'][name]['ndcg_at_100']:.4f}"
    assert "P(multvae better)" in markdown and "Bayesian bootstrap" in markdown
    assert "held-out validation users" in markdown
    assert f"best validation score is **{report['best_autoencoder']}**" in markdown
    chosen = markdown_tables(markdown)[1]
    assert chosen["ease"][0] == f"l2={choices['ease']['chosen']['l2']:g}"
    assert chosen["recvae"][1:3] == [str(choices["recvae"]["kept_epoch"]), "2"]
    assert set(markdown_tables(markdown)[3]) == {"autoencoder", *AUTOENCODERS}

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
    assert children["ease"].data.params["chosen.l2"] == str(choices["ease"]["chosen"]["l2"])
    assert children["recvae"].data.params["model.kind"] == "recvae"
    for name in AUTOENCODERS:
        child = children[name]
        assert child.data.metrics["kept_epoch"] == choices[name]["kept_epoch"]
        assert child.data.metrics["stopped_epoch"] == epochs[name]
        assert child.data.tags["precision"] == choices[name]["precision"]
    assert len(client.get_metric_history(children["multvae"].info.run_id, "val/ndcg_at_100")) == 4
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "benchmark")}
    assert artifacts == {"benchmark/benchmark_report.json", "benchmark/benchmark_report.md"}

    # The parent run compares the models at a glance, and names its data.
    headline = report["headline_metric"]
    assert parent.data.metrics == pytest.approx(
        {f"{headline}.{name}": report["models"][name][headline] for name in ALL_MODELS}
    )
    ingested = kedro_project / "data/02_intermediate/interactions.parquet"
    assert_records_its_data(parent, "ml-100k", pd.read_parquet(ingested))
