"""`kedro run --pipelines tuning` on real MovieLens 100K: a tiny study, resumed, applied;
and RecVAE's study in the environment docs/tuning.md describes."""

import json
import re
import shutil

import mlflow
import optuna
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from kedro.framework.session import KedroSession

from tests.conftest import REPO_ROOT
from tests.helpers.mlflow_store import assert_records_its_data
from tests.helpers.settings import shipped, training_settings
from tests.unit.recommenders.test_latent import random_clicks
from vaeops.config import flattened
from vaeops.data.settings import DatasetParameters
from vaeops.jobs.tuning import tune_hyperparameters
from vaeops.pipelines.tuning import create_pipeline
from vaeops.recommenders.settings import TuningParameters

TINY = {
    "training": {"epochs": 2, "model": {"hidden_dims": [32], "latent_dim": 8}},
    "tuning": {
        "study": {"name": "tiny"},
        "n_trials": 3,
        "search_space": {
            "model": {
                "latent_dim": {"type": "int", "low": 4, "high": 16, "step": 4},
                "hidden_dims": {"type": "int", "low": 16, "high": 64, "step": 16},
            }
        },
    },
}
PLOTS = {"optimization_history.png", "param_importances.png", "contour.png"}
# (users, seed) of each matrix the tuning pipeline reads, over 200 items.
RANDOM_SPLIT = {
    "train_matrix": (300, 0),
    "validation_fold_in": (40, 1),
    "validation_target": (40, 2),
    "test_fold_in": (40, 3),
    "test_target": (40, 4),
}


def write_random_split(project):
    """Random clicks where preprocessing would have written the split, for tests whose
    point is not the data."""
    for name, (n_users, seed) in RANDOM_SPLIT.items():
        path = project / "data/05_model_input" / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        sp.save_npz(path, random_clicks(n_users, 200, 12, seed=seed))


def documented_files(prefix):
    """The YAML blocks of docs/tuning.md whose first line (``# <path>``) is a file under
    ``prefix``, by path."""
    blocks = re.findall(
        r"```yaml\n# (\S+)\n(.*?)```", (REPO_ROOT / "docs/tuning.md").read_text(), re.S
    )
    return {path: text for path, text in blocks if path.startswith(prefix)}


def test_the_study_never_sees_the_test_users():
    tuning_node, comparison_node = create_pipeline().nodes
    assert not {"test_fold_in", "test_target"} & set(tuning_node.inputs)
    assert {"test_fold_in", "test_target", "tuning.best_params"} <= set(comparison_node.inputs)


def test_a_search_space_that_does_not_fit_the_training_block_fails_before_any_trial(tmp_path):
    """What the schema cannot see (the training block's own values) fails in the job,
    before the study is stored; the schema's own checks are in tests/test_parameters.py."""
    training = training_settings({"hidden_dims": [], "latent_dim": 8})
    tuning = yaml.safe_load((REPO_ROOT / "conf/base/parameters_tuning.yml").read_text())["tuning"]
    tuning["study"]["storage"] = f"sqlite:///{tmp_path / 'optuna.db'}"
    tuning["search_space"] = {
        "anneal_cap": {"type": "float", "low": 0.0, "high": 1.0},
        "model": {"hidden_dims": {"type": "int", "low": 16, "high": 64}},
    }
    tuning["contour_params"] = ["anneal_cap", "model.hidden_dims"]
    with pytest.raises(ValueError, match="no hidden layer"):
        tune_hyperparameters(
            None,
            None,
            None,
            training,
            TuningParameters.model_validate(tuning),
            DatasetParameters.model_validate(shipped()["dataset"]),
        )
    assert not (tmp_path / "optuna.db").exists()


@pytest.mark.e2e
def test_tuning_runs_nested_trials_resumes_and_its_best_params_drive_training(
    kedro_project, ml100k_dir
):
    def run(pipelines, env=None, **params):
        """One `kedro run --pipelines ... [--env ...] --params ...`."""
        with KedroSession.create(
            project_path=kedro_project, env=env, runtime_params=params
        ) as session:
            session.run(pipeline_names=pipelines)
        # kedro-mlflow leaves its run on this thread's stack; a new `kedro run` starts without it.
        while mlflow.active_run():
            mlflow.end_run()

    run(["ingestion", "preprocessing"], dataset={"path": str(ml100k_dir)})
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name("vaeops").experiment_id
    storage = f"sqlite:///{kedro_project / 'data/06_models/optuna.db'}"

    def tuning_runs():
        return client.search_runs(
            [experiment_id], "tags.`optuna.best_trial` != ''", order_by=["start_time"]
        )

    def children(parent):
        runs = client.search_runs(
            [experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
        )
        return {run.info.run_name: run for run in runs}

    # A first run: a new study of 3 trials, the first being the training parameters themselves.
    run(["tuning"], **TINY)
    study = optuna.load_study(study_name="tiny-ml-100k", storage=storage)
    assert study.metric_names == ["val_ndcg_at_100"]
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 3
    assert study.trials[0].params == {
        "anneal_cap": 0.2,
        "anneal_share": 0.85,
        "learning_rate": 0.001,
        "model.latent_dim": 8,
        "model.hidden_dims": 32,
        "model.dropout": 0.5,
    }
    [parent] = tuning_runs()
    trials = children(parent)
    assert sorted(trials) == ["trial-0", "trial-1", "trial-2"]
    for trial in study.trials:
        child = trials[f"trial-{trial.number}"]
        assert child.info.run_id == trial.user_attrs["mlflow_run_id"]
        assert child.data.tags["optuna.state"] == "COMPLETE"
        assert child.data.metrics["trial/val_ndcg_at_100"] == pytest.approx(trial.value)
        # The whole block the trial trained, named as a training run names it.
        assert trial.user_attrs["training"]["anneal_cap"] == trial.params["anneal_cap"]
        assert float(child.data.params["training.anneal_cap"]) == trial.params["anneal_cap"]
        assert child.data.params["training.model.latent_dim"] == str(
            trial.params["model.latent_dim"]
        )
        assert child.data.params["training.epochs"] == "2"
        curve = client.get_metric_history(child.info.run_id, "val/ndcg_at_100")
        assert [point.step for point in curve] == [1, 2]
        assert max(point.value for point in curve) == pytest.approx(trial.value)

    metrics = parent.data.metrics
    assert metrics["best/val_ndcg_at_100"] == pytest.approx(study.best_value)
    assert metrics["study/n_trials"] == 3 and metrics["study/n_complete"] == 3
    # The retrains train exactly the trials' blocks with the same seed: what ships was scored.
    assert metrics["tuned/val/ndcg_at_100"] == study.best_value
    assert metrics["default/val/ndcg_at_100"] == study.trials[0].value
    assert {"tuned/test/ndcg_at_100", "default/test/ndcg_at_100", "tuned/test/recall_at_20"} <= set(
        metrics
    )
    assert parent.data.params["best.anneal_cap"] == str(study.best_params["anneal_cap"])
    ingested = kedro_project / "data/02_intermediate/interactions.parquet"
    assert_records_its_data(parent, "ml-100k", pd.read_parquet(ingested))
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "tuning")}
    plots = {
        item.path.split("/")[-1]
        for item in client.list_artifacts(parent.info.run_id, "tuning/plots")
    }
    assert {
        "tuning/best_params.yml",
        "tuning/study_summary.json",
        "tuning/comparison.md",
    } <= artifacts
    assert plots == PLOTS

    best_params = yaml.safe_load(
        (kedro_project / "data/06_models/tuning/best_params.yml").read_text()
    )
    # Only the searched settings, as the best trial trained them: not this small
    # study's epochs.
    tuned = best_params["overrides"]["training"]
    assert flattened(tuned) == {
        name: ([value] if name == "model.hidden_dims" else value)
        for name, value in study.best_params.items()
    }
    assert "epochs" not in tuned
    report = (kedro_project / "data/08_reporting/tuning/comparison.md").read_text()
    tuned_test, default_test = (
        metrics["tuned/test/ndcg_at_100"],
        metrics["default/test/ndcg_at_100"],
    )
    verdict = (
        "higher than"
        if tuned_test > default_test
        else "lower than"
        if tuned_test < default_test
        else "equal to"
    )
    assert (
        f"test/ndcg_at_100: tuned {tuned_test:.4f} is {verdict} default {default_test:.4f}"
        in report
    )

    # The same command again resumes the study; here every new trial diverges (NaN loss),
    # which fails that trial with its reason while the study and the pipeline go on.
    diverging = {"learning_rate": {"type": "float", "low": 1.0e29, "high": 1.0e30, "log": True}}
    run(
        ["tuning"],
        **{
            **TINY,
            "tuning": {
                **TINY["tuning"],
                "n_trials": 2,
                "search_space": {**TINY["tuning"]["search_space"], **diverging},
            },
        },
    )
    study = optuna.load_study(study_name="tiny-ml-100k", storage=storage)
    assert [trial.number for trial in study.trials] == [0, 1, 2, 3, 4]
    assert [trial.state.name for trial in study.trials[3:]] == ["FAIL", "FAIL"]
    for trial in study.trials[3:]:
        assert "Training loss became nan" in trial.user_attrs["fail_reason"]
    first, second = tuning_runs()
    resumed = children(second)
    assert sorted(resumed) == ["trial-3", "trial-4"]
    assert all(
        "Training loss became nan" in run.data.tags["optuna.fail_reason"]
        for run in resumed.values()
    )
    assert second.data.metrics["study/n_trials"] == 5 and second.data.metrics["study/n_fail"] == 2
    summary = json.loads(
        (kedro_project / "data/07_model_output/tuning/study_summary.json").read_text()
    )
    assert summary["this_run"]["trials"] == [3, 4]

    # docs/tuning.md: the best-params file is a parameters file for a Kedro environment.
    (kedro_project / "conf/tuned").mkdir()
    shutil.copy(
        kedro_project / "data/06_models/tuning/best_params.yml",
        kedro_project / "conf/tuned/parameters_tuned.yml",
    )
    run(["training"], env="tuned", training={"epochs": 2})
    [training_run] = client.search_runs(
        [experiment_id],
        "params.`training.anneal_cap` != ''",
        order_by=["start_time DESC"],
        max_results=1,
    )
    # The searched settings come from the file, the rest from conf/base and --params.
    trained = training_run.data.params
    assert float(trained["training.anneal_cap"]) == pytest.approx(study.best_params["anneal_cap"])
    assert trained["training.model.latent_dim"] == str(study.best_params["model.latent_dim"])
    assert trained["training.epochs"] == "2"
    assert trained["training.batch_size"] == str(shipped()["training"]["batch_size"])
    # Trials and training runs name the same settings alike, so they line up in MLflow.
    training_names = {name for name in training_run.data.params if name.startswith("training.")}
    assert set(trials["trial-0"].data.params) == training_names


def test_a_recvae_study_runs_in_the_environment_the_docs_describe(kedro_project):
    files = documented_files("conf/recvae/")
    assert sorted(files) == [
        "conf/recvae/parameters_training.yml",
        "conf/recvae/parameters_tuning.yml",
    ]
    for path, text in files.items():
        (kedro_project / path).parent.mkdir(parents=True, exist_ok=True)
        (kedro_project / path).write_text(text)
    write_random_split(kedro_project)
    tiny = {
        "training": {"epochs": 2, "device": "cpu", "model": {"hidden_dims": [32], "latent_dim": 8}},
        "tuning": {
            "n_trials": 2,
            "search_space": {
                "model": {
                    "latent_dim": {"low": 4, "high": 16, "step": 4},
                    "hidden_dims": {"low": 16, "high": 64, "step": 16},
                }
            },
        },
    }

    with KedroSession.create(
        project_path=kedro_project, env="recvae", runtime_params=tiny
    ) as session:
        session.run(pipeline_names=["tuning"])

    storage = f"sqlite:///{kedro_project / 'data/06_models/optuna.db'}"
    study = optuna.load_study(study_name="recvae-ml-100k", storage=storage)
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE"]
    assert study.trials[0].params == {
        "learning_rate": 0.0005,
        "model.gamma": 0.005,
        "model.latent_dim": 8,
        "model.hidden_dims": 32,
        "model.dropout": 0.5,
    }
    best = yaml.safe_load((kedro_project / "data/06_models/tuning/best_params.yml").read_text())
    assert best["overrides"]["training"]["model"]["gamma"] == study.best_params["model.gamma"]
    assert "kind" not in best["overrides"]["training"]["model"], "the environment names it"
