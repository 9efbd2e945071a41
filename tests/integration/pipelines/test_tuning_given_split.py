"""`kedro run --pipelines tuning_given_split` on a small split in LightGCN's format."""

import json

import mlflow
import optuna
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.helpers.given_splits import both_parts, write_lightgcn_split
from tests.helpers.mlflow_store import assert_records_its_data
from vaeops.adapters.kedro.config_loader import RESOLVERS, EnvironmentMergingConfigLoader
from vaeops.adapters.kedro.parameters import ParameterError, load_parameters
from vaeops.config import flattened
from vaeops.pipelines.tuning_given_split import create_pipeline

TINY_SPACE = {
    "anneal_cap": {"type": "float", "low": 0.5, "high": 3.0},
    "model": {"latent_dim": {"type": "int", "low": 4, "high": 16, "step": 4}},
}


def test_it_is_the_tuning_pipeline_under_a_namespace_and_the_study_never_sees_the_test_part():
    nodes = {node.name: node for node in create_pipeline().nodes}
    test_part = {"tuning_given_split.test_fold_in", "tuning_given_split.test_target"}
    assert not test_part & set(nodes["tuning_given_split.tune_hyperparameters"].inputs)
    comparison = nodes["tuning_given_split.compare_tuned_and_default_on_test"]
    assert test_part | {"tuning_given_split.best_params"} <= set(comparison.inputs)
    assert {"params:tuning_given_split.training", "params:tuning_given_split.tuning"} <= set(
        nodes["tuning_given_split.tune_hyperparameters"].inputs
    )


def test_a_name_that_is_no_benchmark_autoencoder_fails_naming_the_missing_block():
    loader = EnvironmentMergingConfigLoader(
        conf_source=str(REPO_ROOT / "conf"),
        base_env="base",
        default_run_env="base",
        custom_resolvers=RESOLVERS,
        runtime_params={"tuning_given_split": {"autoencoder": "multvea"}},
    )
    with pytest.raises(ParameterError) as raised:
        load_parameters(loader)
    assert raised.value.message.splitlines()[1] == (
        "  tuning_given_split.training: "
        "Interpolation key 'benchmark_given_split.autoencoders.multvea' not found"
    )


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
            "study_changes": {"name": "tiny-given"},
            "tuning": {
                "n_trials": 2,
                "search_space": TINY_SPACE,
                "contour_params": ["anneal_cap", "model.latent_dim"],
            },
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
        (kedro_project / "data/06_models/tuning_given_split/best_params.yml").read_text()
    )
    # Only the searched settings, as the best trial trained them.
    assert flattened(best["overrides"]["training"]) == {
        name: ([value] if name == "model.hidden_dims" else value)
        for name, value in study.best_params.items()
    }
    comparison = (kedro_project / "data/08_reporting/tuning_given_split/comparison.md").read_text()
    assert comparison.startswith("# Tuned vs default configuration · ")
    artifacts = {
        item.path for item in client.list_artifacts(parent.info.run_id, "tuning_given_split")
    }
    assert "tuning_given_split/best_params.yml" in artifacts
    assert mlflow.get_run(parent.info.run_id).info.status == "FINISHED"
    assert_records_its_data(parent, "lightgcn", both_parts(folder))
    [logged] = parent.inputs.dataset_inputs
    assert json.loads(logged.dataset.source) == {"uri": folder.as_uri()}
