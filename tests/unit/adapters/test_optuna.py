"""The Optuna + MLflow study machinery, with fast fake objectives and one real divergence."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import mlflow
import numpy as np
import optuna
import pytest
import scipy.sparse as sp
from optuna.trial import TrialState
from pydantic import ValidationError

from tests.helpers.settings import training_settings
from vaeops.adapters.optuna import search, storage, trials
from vaeops.adapters.optuna.summary import summarize, summarize_run
from vaeops.errors import DataError
from vaeops.recommenders.training import TrainingDiverged, train_autoencoder
from vaeops.reports.studies import study_figures
from vaeops.schema import NamedStudyParameters, PrunerParameters, SamplerParameters

TPE = {"name": "TPESampler", "seed": 7}
NO_PRUNING = {"name": "NopPruner"}


def study_settings(**fields) -> NamedStudyParameters:
    """A study's settings as the YAML gives them, maximizing unless ``fields`` says not."""
    return NamedStudyParameters.model_validate({"direction": "maximize", **fields})


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # creates the tables once
    return uri


@pytest.fixture
def parent_run(tracking_uri, request):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.MlflowClient().create_experiment(request.node.name)
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name="parent") as run:
            yield run
    finally:
        mlflow.set_tracking_uri(previous)


def child_runs(parent) -> dict[int, mlflow.entities.Run]:
    client = mlflow.MlflowClient()
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    return {int(run.data.tags["optuna.trial_number"]): run for run in runs}


def tiny_clicks() -> sp.csr_matrix:
    matrix = sp.random(60, 40, density=0.2, format="csr", random_state=1, dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


def train_tiny(learning_rate: float) -> float:
    clicks = tiny_clicks()
    result = train_autoencoder(
        training_settings(
            {"hidden_dims": [8], "latent_dim": 4},
            epochs=2,
            batch_size=30,
            learning_rate=learning_rate,
            validation_k=10,
        ),
        clicks,
        clicks[:20],
        clicks[:20],
    )
    return result.best_validation_ndcg


def test_each_trial_is_a_nested_run_and_failures_are_recorded_while_the_study_goes_on(
    parent_run, tmp_path
):
    study = storage.open_study(
        study_settings(
            name="nan",
            storage=f"sqlite:///{tmp_path / 'optuna.db'}",
            sampler=TPE,
            pruner=NO_PRUNING,
        )
    )

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 1:  # a real divergence: Adam with a step of 1e30 turns the loss into NaN
            return train_tiny(learning_rate=1e30)
        if trial.number == 2:
            return float("nan")
        return x

    ran = trials.run_trials(
        study, objective, n_trials=4, value_name="score", catch=(TrainingDiverged,)
    )

    assert [trial.state for trial in ran] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.FAIL,
        TrialState.COMPLETE,
    ]
    assert "TrainingDiverged: Training loss became nan" in ran[1].user_attrs[trials.FAIL_REASON]
    assert ran[2].user_attrs[trials.FAIL_REASON] == "the objective returned nan"

    children = child_runs(parent_run)
    assert sorted(children) == [0, 1, 2, 3]
    for trial in ran:
        child = children[trial.number]
        assert child.info.run_id == trial.user_attrs[trials.MLFLOW_RUN_ID]
        assert child.info.run_name == f"trial-{trial.number}"
        assert child.data.tags["optuna.state"] == trial.state.name
        assert float(child.data.params["x"]) == pytest.approx(trial.params["x"])
    assert children[0].data.metrics["trial/score"] == pytest.approx(ran[0].value)
    assert children[1].info.status == "FAILED"
    assert "Training loss became nan" in children[1].data.tags["optuna.fail_reason"]
    assert "trial/score" not in children[2].data.metrics
    assert mlflow.active_run().info.run_id == parent_run.info.run_id, "the parent must stay active"


def test_a_clearly_worse_trial_is_pruned_at_its_first_reported_epoch(parent_run):
    study = storage.open_study(
        study_settings(
            name="pruning",
            storage=None,
            sampler=TPE,
            pruner={"name": "MedianPruner", "kwargs": {"n_startup_trials": 2, "n_warmup_steps": 0}},
        )
    )
    curves = {0: 0.5, 1: 0.6, 2: 0.01, 3: 0.7}

    def objective(trial):
        report = trials.PruneOnEpochMetric(trial, "val_ndcg_at_100")
        for epoch in range(1, 6):
            report({"epoch": epoch, "val_ndcg_at_100": curves[trial.number]})
        return curves[trial.number]

    ran = trials.run_trials(study, objective, n_trials=4)

    assert [trial.state for trial in ran] == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
    ]
    assert ran[2].intermediate_values == {1: 0.01}
    pruned = child_runs(parent_run)[2]
    assert pruned.info.status == "KILLED"
    assert pruned.data.tags["optuna.state"] == "PRUNED"
    assert "pruned at epoch 1" in pruned.data.tags["optuna.prune_reason"]
    summary = summarize(study)
    assert summary["n_trials_by_state"]["pruned"] == 1
    assert summary["best_trial"] == 3 and summary["best_value"] == 0.7


def test_opening_a_study_again_resumes_it_with_new_points(parent_run, tmp_path):
    settings = study_settings(
        name="resume",
        storage=f"sqlite:///{tmp_path / 'nested' / 'optuna.db'}",
        sampler=TPE,
        pruner=NO_PRUNING,
    )

    def objective(trial):
        return trial.suggest_float("x", 0.0, 1.0)

    first = trials.run_trials(storage.open_study(settings), objective, n_trials=3)
    second = trials.run_trials(storage.open_study(settings), objective, n_trials=2)

    study = optuna.load_study(study_name="resume", storage=settings.storage)
    assert [trial.number for trial in study.trials] == [0, 1, 2, 3, 4]
    assert [trial.number for trial in first] == [0, 1, 2] and [
        trial.number for trial in second
    ] == [3, 4]
    first_points = {trial.params["x"] for trial in first}
    assert not first_points & {trial.params["x"] for trial in second}, (
        "a resumed run must not replay points"
    )


def test_sampler_seeds_differ_between_workers_and_resumes_but_repeat_for_the_same_state():
    def first_draw(seed, n_existing_trials):
        sampler = search.build_sampler(
            SamplerParameters(name="RandomSampler", seed=seed), n_existing_trials
        )
        study = optuna.create_study(sampler=sampler)
        return study.ask().suggest_float("x", 0.0, 1.0)

    assert first_draw(1, 3) == first_draw(1, 3)
    # seed + n would give worker (1, 1 trial stored) the stream of worker (2, none).
    assert len({first_draw(1, 0), first_draw(1, 1), first_draw(2, 0)}) == 3


def test_two_workers_share_one_sqlite_study_without_losing_a_trial(tracking_uri, tmp_path):
    storage_url = f"sqlite:///{tmp_path / 'shared.db'}"
    # Each worker waits for the other after its imports, so both create the new
    # storage and run their trials at the same time.
    worker = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from vaeops.adapters.optuna import storage, trials
        from vaeops.schema import NamedStudyParameters

        Path({str(tmp_path)!r}, "ready-" + sys.argv[1]).touch()
        while len(list(Path({str(tmp_path)!r}).glob("ready-*"))) < 2:
            time.sleep(0.01)
        settings = NamedStudyParameters.model_validate(
            {{"name": "parallel", "storage": {storage_url!r}, "direction": "maximize",
              "sampler": {{"name": "RandomSampler", "seed": None}},
              "pruner": {{"name": "NopPruner"}}}})

        def objective(trial):
            trial.set_user_attr("worker", sys.argv[1])
            time.sleep(0.05)
            return trial.suggest_float("x", 0.0, 1.0)

        trials.run_trials(storage.open_study(settings), objective, n_trials=10)
        """
    )
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_EXPERIMENT_ID"}
    env.update(MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_EXPERIMENT_NAME="parallel-workers")
    mlflow.MlflowClient(tracking_uri=tracking_uri).create_experiment("parallel-workers")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", worker, name], env=env, stderr=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    errors = [process.communicate(timeout=240)[1] for process in workers]
    assert [process.returncode for process in workers] == [0, 0], errors

    study = optuna.load_study(study_name="parallel", storage=storage_url)
    assert sorted(trial.number for trial in study.trials) == list(range(20))
    assert all(trial.state == TrialState.COMPLETE for trial in study.trials)
    spans = {
        worker: (min(t.datetime_start for t in ran), max(t.datetime_complete for t in ran))
        for worker in ("a", "b")
        if (ran := [t for t in study.trials if t.user_attrs["worker"] == worker]) and len(ran) == 10
    }
    assert len(spans) == 2, "each worker must have added its 10 trials"
    assert spans["a"][0] < spans["b"][1] and spans["b"][0] < spans["a"][1], (
        "the workers must overlap"
    )
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("parallel-workers").experiment_id])
    assert sorted(int(run.data.tags["optuna.trial_number"]) for run in runs) == list(range(20))


def test_study_figures_draw_history_importances_and_the_chosen_contour():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("beta", 0, 1) - t.suggest_int("latent", 1, 9) / 10, 6)

    figures = study_figures(study, ["beta", "latent"], target_name="score")

    assert list(figures) == ["optimization_history", "param_importances", "contour"]
    contour_axes = figures["contour"].axes[0]
    assert (contour_axes.get_xlabel(), contour_axes.get_ylabel()) == ("beta", "latent")
    assert figures["param_importances"].axes[0].get_yticklabels()


def test_search_space_entries_map_to_suggestions_and_bad_entries_say_how_to_fix_them():
    space = search.flatten_search_space(
        {
            "anneal_cap": {"type": "float", "low": 0.0, "high": 1.0},
            "model": {
                "latent_dim": {"type": "int", "low": 50, "high": 400, "step": 25},
                "kind": {"type": "categorical", "choices": ["multvae", "multdae"]},
            },
        }
    )
    assert list(space) == ["anneal_cap", "model.latent_dim", "model.kind"]
    trial = optuna.create_study().ask()
    values = search.suggest(trial, space)
    assert 0.0 <= values["anneal_cap"] <= 1.0
    assert values["model.latent_dim"] in range(50, 401, 25)
    assert values["model.kind"] in {"multvae", "multdae"}
    assert search.contains(space["model.latent_dim"], 200) and not search.contains(
        space["anneal_cap"], 1.5
    )

    with pytest.raises(ValueError, match="use float, int or categorical"):
        search.suggest(trial, {"dropout": {"type": "uniform", "low": 0, "high": 1}})
    with pytest.raises(ValueError, match="give a distribution"):
        search.flatten_search_space({"dropout": 0.5})
    with pytest.raises(ValueError, match="choose one of .*TPESampler"):
        search.build_sampler(SamplerParameters(name="TPE"), 0)
    with pytest.raises(ValueError, match="choose one of .*MedianPruner"):
        search.build_pruner(PrunerParameters(name="Median"))
    with pytest.raises(ValidationError, match="unknown keys"):
        NamedStudyParameters.model_validate(
            {"name": "s", "storage": None, "direction": "maximize", "sampler_seed": 1}
        )


def test_a_log_written_as_null_draws_what_a_linear_range_draws():
    """A search space may leave ``log`` out or write it as null: both mean linear."""

    def draws(spec: dict) -> list:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
        return [search.suggest(study.ask(), {"x": spec})["x"] for _ in range(5)]

    linear = {"type": "float", "low": 0.0, "high": 1.0}
    assert draws({**linear, "log": None}) == draws(linear) == draws({**linear, "log": False})


def test_the_configuration_in_use_is_enqueued_until_evaluated_and_only_inside_the_space(caplog):
    space = search.flatten_search_space({"anneal_cap": {"type": "float", "low": 0.0, "high": 1.0}})
    study = optuna.create_study()
    search.enqueue_if_in_space(study, {"anneal_cap": 0.2}, space, source="defaults")
    search.enqueue_if_in_space(study, {"anneal_cap": 0.2}, space, source="defaults")
    [waiting] = study.trials
    assert waiting.state == TrialState.WAITING
    assert waiting.user_attrs == {"enqueued": "defaults"}
    interrupted = study.ask()
    assert interrupted.suggest_float("anneal_cap", 0.0, 1.0) == 0.2
    search.enqueue_if_in_space(study, {"anneal_cap": 0.2}, space, source="defaults")
    assert len(study.trials) == 1, "a running trial with the values counts"

    # Its worker was interrupted: the values were never evaluated, so they are queued again.
    study.tell(interrupted, state=TrialState.FAIL)
    search.enqueue_if_in_space(study, {"anneal_cap": 0.2}, space, source="defaults")
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    study.optimize(lambda trial: trial.suggest_float("anneal_cap", 0.0, 1.0), n_trials=1)
    search.enqueue_if_in_space(study, {"anneal_cap": 0.2}, space, source="defaults")
    search.enqueue_if_in_space(study, {"anneal_cap": 0.3}, space, source="new defaults")
    assert [(trial.state, trial.params) for trial in study.trials] == [
        (TrialState.FAIL, {"anneal_cap": 0.2}),
        (TrialState.COMPLETE, {"anneal_cap": 0.2}),
        (TrialState.WAITING, {}),
    ]
    assert study.trials[2].user_attrs == {"enqueued": "new defaults"}

    outside = optuna.create_study()
    with caplog.at_level("INFO", logger=search.__name__):
        search.enqueue_if_in_space(outside, {"anneal_cap": 1.5}, space, source="defaults")
    assert outside.trials == []
    assert "defaults {'anneal_cap': 1.5} lie outside the search space" in caplog.text


def test_run_summary_counts_only_the_trials_this_run_added():
    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=0.9, params={}, distributions={}))

    def objective(trial):
        if trial.number == 2:
            raise optuna.TrialPruned()
        return 0.1 * trial.number

    study.optimize(objective, n_trials=3)
    summary = summarize_run(study, study.trials[1:], seconds=2.5)
    assert summary["n_trials"] == 4 and summary["best_trial"] == 0
    assert summary["this_run"] == {
        "trials": [1, 2, 3],
        "n_trials_by_state": {"complete": 2, "pruned": 1, "fail": 0},
        "seconds": 2.5,
    }


def test_the_objective_is_named_and_child_runs_log_the_parameters_as_mapped(parent_run):
    study = storage.open_study(
        study_settings(name="named", storage=None, sampler=TPE, pruner=NO_PRUNING)
    )

    trials.run_trials(
        study,
        lambda trial: trial.suggest_float("x", 0.0, 1.0),
        n_trials=1,
        value_name="score",
        logged_params=lambda values: {f"block.{name}": value for name, value in values.items()},
    )

    assert study.metric_names == ["score"]
    [child] = child_runs(parent_run).values()
    assert child.data.params == {"block.x": str(study.trials[0].params["x"])}


def test_a_trial_whose_worker_died_is_failed_retried_and_its_runs_end_killed(
    parent_run, tracking_uri, tmp_path
):
    storage_url = f"sqlite:///{tmp_path / 'optuna.db'}"
    heartbeat = {"heartbeat_interval": 1, "grace_period": 1}
    # A worker that dies mid-trial, after a heartbeat, with its trial and MLflow runs open.
    worker = textwrap.dedent(
        f"""
        import os, time
        import mlflow
        from vaeops.adapters.optuna import storage, trials
        from vaeops.schema import NamedStudyParameters

        settings = NamedStudyParameters.model_validate(
            {{"name": "stale", "storage": {storage_url!r}, "direction": "maximize",
              "sampler": {{"name": "RandomSampler", "seed": 0}},
              "pruner": {{"name": "NopPruner"}}, **{heartbeat!r}}})

        def objective(trial):
            trial.suggest_float("x", 0.0, 1.0)
            time.sleep(1.5)
            os._exit(9)

        with mlflow.start_run(experiment_id={parent_run.info.experiment_id!r}):
            trials.run_trials(storage.open_study(settings), objective, n_trials=1)
        """
    )
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_EXPERIMENT_ID"}
    env.update(MLFLOW_TRACKING_URI=tracking_uri)
    died = subprocess.run(
        [sys.executable, "-c", worker], env=env, capture_output=True, text=True, timeout=240
    )
    assert died.returncode == 9, died.stderr
    time.sleep(2)  # past the grace period

    settings = study_settings(
        name="stale", storage=storage_url, sampler=TPE, pruner=NO_PRUNING, **heartbeat
    )
    study = storage.open_study(settings)
    stale, retry = study.trials
    assert stale.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert retry.params == stale.params
    client = mlflow.MlflowClient()
    dead_child = client.get_run(stale.user_attrs[trials.MLFLOW_RUN_ID])
    dead_parent = client.get_run(dead_child.data.tags["mlflow.parentRunId"])
    assert (dead_child.info.status, dead_parent.info.status) == ("KILLED", "KILLED")
    assert dead_child.data.tags["optuna.state"] == "FAIL"

    trials.run_trials(study, lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=1)
    retried = study.trials[1]
    assert retried.state == TrialState.COMPLETE and retried.value == stale.params["x"]
    retry_run = client.get_run(retried.user_attrs[trials.MLFLOW_RUN_ID])
    assert retry_run.data.tags["optuna.retry_of_run"] == dead_child.info.run_id
    assert retry_run.data.tags["mlflow.parentRunId"] == parent_run.info.run_id


def test_a_study_records_its_data_and_refuses_trials_on_other_data():
    study = optuna.create_study()
    storage.check_study_data(study, {"items": 10, "train_users": 5})
    storage.check_study_data(study, {"items": 10, "train_users": 5})
    assert study.user_attrs["data"] == {"items": 10, "train_users": 5}
    with pytest.raises(DataError, match=r"other data \(.*'items': 10.*\) than this run reads"):
        storage.check_study_data(study, {"items": 11, "train_users": 5})
