"""`kedro run --pipeline benchmark_given_split` on a small split in LightGCN's format."""

import json

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers.given_splits import both_parts, write_lightgcn_split
from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.mlflow_store import assert_records_its_data
from vaeops.adapters.kedro.config_loader import project_parameters

MODELS = ["popularity", "ease", "itemknn", "multvae", "recvae"]
AUTOENCODERS = ["multvae", "recvae"]


@pytest.mark.e2e
def test_any_lightgcn_folder_is_benchmarked_with_choices_made_on_carved_validation(
    run_kedro, kedro_project, nested_runs, tmp_path
):
    folder = tmp_path / "yelp-like"
    n_test = write_lightgcn_split(folder)
    run_kedro(
        "benchmark_given_split",
        benchmark_given_split={"dataset": {"name": "lightgcn", "path": str(folder)}},
        benchmark={
            "models": {"mf": False, "multdae": False},
            "bootstrap_samples": 500,
        },
        training={"epochs": 3, "batch_size": 20},
    )

    reporting = kedro_project / "data/08_reporting"
    summary = json.loads((reporting / "given_split_summary.json").read_text())
    assert summary == {
        "dataset": "lightgcn",
        "path": str(folder),
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
    assert report["published"] is None  # Gowalla's published rows are not this data's

    # Every user has 6 train items, 2 or more, so all 60 (under max_users) validate on
    # round(0.2 x 6) = 1 carved item each.
    protocol = report["protocol"]
    assert protocol["validation_users"] == 60
    assert (protocol["share"], protocol["max_users"], protocol["refit"]) == (0.2, 5000, True)
    choices = report["choices"]
    assert choices["ease"]["chosen"]["l2"] in (25.0, 50.0, 100.0)
    # Baselines and autoencoders alike are chosen on the headline's cut-off.
    assert {name: choices[name]["validation_metric"] for name in MODELS[1:]} == dict.fromkeys(
        MODELS[1:], "ndcg_at_20"
    )
    for name in AUTOENCODERS:
        assert 1 <= choices[name]["kept_epoch"] <= choices[name]["stopped_epoch"] <= 3
    assert set(report["against_ease"]) == set(AUTOENCODERS)

    markdown = (reporting / "given_split_report.md").read_text()
    # The title names the given split's data set and the tracked run.
    title, _, provenance = markdown.splitlines()[:3]
    assert title == "# Benchmark of every model · lightgcn"
    assert provenance.startswith("MLflow run ") and "untracked" not in provenance
    assert markdown.splitlines()[4].startswith("Every choice")
    assert "60 validation users carved from the train part" in markdown
    assert "Refit: yes." in markdown and "(**published**)" not in markdown
    models, chosen, comparisons, versus_ease = markdown_tables(markdown)
    assert chosen["multvae"][:2] == ["—", str(choices["multvae"]["kept_epoch"])]
    assert "multvae against each model on test NDCG@20" in markdown
    assert set(versus_ease) == {"autoencoder", *AUTOENCODERS}

    client, parent, children = nested_runs("benchmark_given_split")
    assert set(children) == set(MODELS)
    for name in AUTOENCODERS:
        child = children[name]
        assert child.data.params["precision"] == "auto"  # no longer forced to bf16
        assert child.data.tags["precision"] == choices[name]["precision"]
        assert child.data.metrics["kept_epoch"] == choices[name]["kept_epoch"]
        assert child.data.metrics["stopped_epoch"] == choices[name]["stopped_epoch"]
        assert child.data.metrics["test/ndcg_at_20"] == pytest.approx(
            report["models"][name]["ndcg_at_20"]
        )
        history = client.get_metric_history(child.info.run_id, "val/ndcg_at_20")
        assert len(history) == choices[name]["stopped_epoch"]
        # The refit, up to the kept epoch, logs its curves in a run of its own.
        [refit] = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{child.info.run_id}'",
        )
        assert refit.info.run_name == f"{name} refit"
        assert refit.data.params["epochs"] == str(choices[name]["kept_epoch"])
        assert len(client.get_metric_history(refit.info.run_id, "train/loss")) == int(
            refit.data.params["epochs"]
        )
    assert children["ease"].data.params["chosen.l2"] == str(choices["ease"]["chosen"]["l2"])
    assert parent.data.metrics == pytest.approx(
        {f"ndcg_at_20.{name}": report["models"][name]["ndcg_at_20"] for name in MODELS}
    )
    assert_records_its_data(parent, "lightgcn", both_parts(folder))
    [logged] = parent.inputs.dataset_inputs
    assert json.loads(logged.dataset.source) == {"uri": folder.as_uri()}


def test_the_benchmark_it_runs_is_derived_in_yaml_with_the_published_rows_of_its_dataset():
    shipped = project_parameters(REPO_ROOT / "conf", env="base")
    given = shipped["benchmark_given_split"]
    assert given["benchmark"]["published"] == given["published"]["gowalla"]
    assert given["benchmark"]["headline_metric"] == "ndcg_at_20"
    assert given["benchmark"]["baselines"]["ease"]["l2"] == [25.0, 50.0, 100.0]
    multvae = given["benchmark"]["autoencoders"]["multvae"]
    # params:training, the split's cut-off, the benchmark's overrides, then the split's.
    assert multvae == {
        **shipped["training"],
        "validation_k": 20,
        "anneal_share": 0.05,
        "patience": 10,
        "anneal_cap": 1.0,
    }
    other = project_parameters(
        REPO_ROOT / "conf",
        env="base",
        runtime_params={"benchmark_given_split": {"dataset": {"name": "lightgcn"}}},
    )
    assert other["benchmark_given_split"]["benchmark"]["published"] is None
