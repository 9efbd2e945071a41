"""Parameters are merged across conf/base, the run's environment and --params, then
resolved: a block derived from another sees every override of it."""

import pytest

from vaeops.adapters.kedro.config_loader import (
    EnvironmentMergingConfigLoader,
    data_name,
    merge,
    project_parameters,
)


@pytest.fixture
def conf(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "base" / "parameters_training.yml").write_text(
        "training: {epochs: 200, patience: 20, model: {kind: multvae, latent_dim: 200}}\n"
        "evaluation: {ks: [20, 100]}\n"
    )
    (tmp_path / "base" / "parameters_benchmark.yml").write_text(
        "benchmark:\n"
        "  overrides: {model: {kind: multdae}}\n"
        "  derived: ${merge:${training},${benchmark.overrides}}\n"
    )
    return tmp_path


def parameters(conf, runtime_params=None) -> dict:
    loader = EnvironmentMergingConfigLoader(
        conf_source=str(conf),
        base_env="base",
        default_run_env="local",
        custom_resolvers={"merge": merge},
        runtime_params=runtime_params,
    )
    return loader["parameters"]


def test_a_derived_block_sees_the_local_environment_and_the_runtime_overrides(conf):
    local = "training: {epochs: 50, patience: 20, model: {kind: multvae, latent_dim: 8}}\n"
    (conf / "local" / "parameters.yml").write_text(local)
    params = parameters(conf, runtime_params={"training": {"patience": 5}})
    expected = {"epochs": 50, "patience": 5, "model": {"kind": "multdae", "latent_dim": 8}}
    assert params["benchmark"]["derived"] == expected
    # conf/local replaces a block whole, as Kedro does; --params change single keys,
    # and the other blocks of conf/base stay.
    assert params["training"] == {**expected, "model": {"kind": "multvae", "latent_dim": 8}}
    assert params["evaluation"] == {"ks": [20, 100]}


def test_an_environments_overrides_change_single_keys_before_the_runtime_overrides(conf):
    # best_params.yml as docs/tuning.md copies it: only the searched settings.
    tuned = "overrides: {training: {patience: 7, model: {latent_dim: 16}}}\n"
    (conf / "local" / "parameters_tuned.yml").write_text(tuned)
    params = parameters(conf, runtime_params={"training": {"epochs": 3}})
    assert params["training"] == {
        "epochs": 3,
        "patience": 7,
        "model": {"kind": "multvae", "latent_dim": 16},
    }
    assert "overrides" not in params
    assert params["benchmark"]["derived"]["model"] == {"kind": "multdae", "latent_dim": 16}


def test_merge_takes_mappings_only():
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}
    with pytest.raises(TypeError, match="merge takes mappings"):
        merge({"a": 1}, 5)


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("ml-100k", None, "ml-100k"),
        ("ml-100k", "../shared/data/ml-100k", "ml-100k"),  # a named data set's copy
        ("custom", "/data/Shop Clicks (2024).csv", "shop-clicks-2024"),
        ("custom", "events.v2.parquet", "events.v2"),
        ("custom", "/data/@@.csv", "custom"),  # nothing a name may hold
    ],
)
def test_data_name_is_the_data_set_or_a_custom_files_stem_as_a_model_name_holds_it(
    name, path, expected
):
    assert data_name(name, path) == expected


def test_the_registered_model_is_named_after_the_model_family_and_the_data():
    assert project_parameters()["registry"]["model_name"] == "vaeops-multvae-ml-100k"
    custom = {
        "dataset": {"name": "custom", "path": "/tmp/My Shop.csv"},
        "training": {"model": {"kind": "recvae"}},
    }
    assert project_parameters(runtime_params=custom)["registry"]["model_name"] == (
        "vaeops-recvae-my-shop"
    )
    own = {"registry": {"model_name": "shop-recommender"}}
    assert project_parameters(runtime_params=own)["registry"]["model_name"] == "shop-recommender"
