"""`kedro run --pipelines tuning_given_split` on a small split in LightGCN's format."""

import mlflow
import optuna
import pytest
import yaml

from tests.given_splits import write_lightgcn_split
from vaeops.pipelines.tuning_given_split import create_pipeline
from vaeops.pipelines.tuning_given_split.nodes import given_split_tuning_settings

TINY_SPACE = {
    "anneal_cap": {"type": "float", "low": 0.5, "high": 3.0},
    "model": {"latent_dim": {"type": "int", "low": 4, "high": 16, "step": 4}},
}


def test_the_study_never_sees_the_test_part():
    nodes = {node.name: node for node in create_pipeline().nodes}
    test_part = {"given_split_tuning_test_fold_in", "given_split_tuning_test_target"}
    assert not test_part & set(nodes["tune_on_carved_validation"].inputs)
    comparison = nodes["compare_tuned_and_default_on_given_test"]
    assert test_part | {"given_split_best_params"} <= set(comparison.inputs)


def test_a_name_that_is_no_benchmark_autoencoder_fails_with_the_valid_names():
    given = {"dataset": {"name": "gowalla"}, "autoencoders": {}}
    benchmark = {"autoencoders": {"multvae": {}, "recvae": {}}, "evaluation": {}}
    own = {"autoencoder": "multvea", "training": None, "tuning": {}}
    with pytest.raises(
        ValueError, match="'multvea'.*one of benchmark.autoencoders: multvae, recvae"
    ):
        given_split_tuning_settings(benchmark, given, {"validation_k": 100}, {}, own)


@pytest.mark.e2e
def test_the_study_tunes_the_benchmarks_block_on_carved_validation_then_scores_test_once(
    run_kedro, kedro_project, nested_runs, tmp_path
):
    folder = tmp_path / "yelp-like"
    write_lightgcn_split(folder)
    run_kedro(
        "tuning_given_split",
        benchmark_given_split={"dataset": {"name": "lightgcn", "path": str(folder)}},
        training={"epochs": 3, "batch_size": 20, "model": {"hidden_dims": [16], "latent_dim": 8}},
        tuning_given_split={
            "tuning": {
                "study": {"name": "tiny-given"},
                "n_trials": 2,
                "search_space": TINY_SPACE,
                "contour_params": ["anneal_cap", "model.latent_dim"],
            }
        },
    )

    storage = f"sqlite:///{kedro_project / 'data/06_models/optuna.db'}"
    # Named by the folder, so Yelp2018 and Amazon-book keep studies of their own.
    study = optuna.load_study(study_name="tiny-given-yelp-like", storage=storage)
    assert study.metric_names == ["val_ndcg_at_20"]  # the given split's headline cut-off
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 2
    for trial in study.trials:
        block = trial.user_attrs["training"]
        # The benchmark's Mult-VAE block (its given-split overrides), then tuning_given_split's.
        assert (block["anneal_share"], block["validation_k"], block["patience"]) == (0.05, 20, 5)
        assert block["anneal_cap"] == trial.params["anneal_cap"]
    # The default learning rate lies outside the shipped space: no trial repeats the default.
    assert study.trials[0].params["anneal_cap"] != 1.0

    client, parent, _ = nested_runs("tuning_given_split")
    metrics = parent.data.metrics
    assert metrics["tuned/val/ndcg_at_20"] == study.best_value
    assert {"default/val/ndcg_at_20", "tuned/test/ndcg_at_20"} <= set(metrics)
    assert "tuned/test/uncapped_recall_at_20" in metrics
    best = yaml.safe_load(
        (kedro_project / "data/06_models/given_split_best_params.yml").read_text()
    )
    assert best == {"training": study.best_trial.user_attrs["training"]}
    assert (kedro_project / "data/08_reporting/given_split_tuning_comparison.md").exists()
    artifacts = {
        item.path for item in client.list_artifacts(parent.info.run_id, "tuning_given_split")
    }
    assert "tuning_given_split/given_split_best_params.yml" in artifacts
    assert mlflow.get_run(parent.info.run_id).info.status == "FINISHED"
