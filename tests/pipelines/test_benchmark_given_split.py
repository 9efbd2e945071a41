"""`kedro run --pipeline benchmark_given_split` on a small split in LightGCN's format."""

import json

import numpy as np
import pytest

from tests.markdown_tables import markdown_tables

MODELS = ["popularity", "itemknn", "multvae"]


def write_lightgcn_split(folder, n_users=60, n_items=30, seed=0):
    """Two communities that each use their own half of the items; every user's
    last two items are the test part. Returns the number of test interactions."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    n_test = 0
    with open(folder / "train.txt", "w") as train, open(folder / "test.txt", "w") as test:
        for user in range(n_users):
            half = user % 2
            items = rng.choice(n_items // 2, size=8, replace=False) + half * (n_items // 2)
            train.write(" ".join(map(str, [user, *items[:6]])) + "\n")
            test.write(" ".join(map(str, [user, *items[6:]])) + "\n")
            n_test += 2
    return n_test


@pytest.mark.e2e
def test_given_split_benchmark_reports_both_recalls_beside_published_rows(
    run_kedro, kedro_project, nested_runs, tmp_path
):
    n_test = write_lightgcn_split(tmp_path / "lightgcn")
    run_kedro(
        "benchmark_given_split",
        benchmark_given_split={"dataset": {"path": str(tmp_path / "lightgcn")}},
        benchmark={
            "models": {"ease": False, "mf": False, "multdae": False},
            "bootstrap_samples": 500,
        },
        training={"epochs": 3, "batch_size": 20},
    )

    reporting = kedro_project / "data/08_reporting"
    summary = json.loads((reporting / "given_split_summary.json").read_text())
    assert summary == {
        "dataset": "gowalla",
        "users": 60,
        "items": 30,
        "train_interactions": 360,
        "test_interactions": n_test,
    }
    report = json.loads((reporting / "given_split_report.json").read_text())
    assert report["headline_metric"] == "ndcg_at_20"
    assert report["n_evaluated_users"] == 60  # every user has test items
    assert list(report["models"]) == MODELS
    for values in report["models"].values():
        # Two test items per user: both recall definitions divide by 2 at K = 20.
        assert values["uncapped_recall_at_20"] == pytest.approx(values["recall_at_20"])
    # Within its community a user's 2 test items are among 9 unseen ones.
    assert report["models"]["itemknn"]["recall_at_20"] == 1.0
    assert report["published"]["models"]["multvae"] == {
        "uncapped_recall_at_20": 0.1641,
        "ndcg_at_20": 0.1335,
    }

    markdown = (reporting / "given_split_report.md").read_text()
    models = markdown_tables(markdown)[0]
    assert models["multvae (**published**)"] == ["—", "—", "—", "0.1335", "0.1641", "—"]
    assert "lightgcn (**published**)" in models
    assert "multvae against each model on test NDCG@20" in markdown

    client, parent, children = nested_runs("benchmark_given_split")
    assert set(children) == set(MODELS)
    multvae = children["multvae"]
    assert multvae.data.params["precision"] == "bf16"
    assert len(client.get_metric_history(multvae.info.run_id, "train/loss")) == 3
    assert not any(key.startswith("val/") for key in multvae.data.metrics)
    assert multvae.data.metrics["test/ndcg_at_20"] == pytest.approx(
        report["models"]["multvae"]["ndcg_at_20"]
    )
