"""Tuning workers are real processes: one killed mid-trial (kill -9) loses nothing that
the next worker does not recover."""

import os
import signal
import subprocess
import sys
import time

import mlflow
import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from tests.integration.pipelines.test_tuning import write_random_split

# Every trial trains the default `training` block (epochs long enough to be killed in),
# with heartbeats every second, stale after two silent seconds.
PARAMS = ",".join(
    [
        "tuning.study.name=workers",
        "tuning.study.heartbeat_interval=1",
        "tuning.study.grace_period=2",
        "tuning.n_trials=1",
        "training.epochs=15",
        "training.device=cpu",
    ]
)
STUDY = "workers-ml-100k"


def start_worker(project, name):
    """`kedro run --pipelines tuning` in its own process, its output in <name>.log."""
    with (project / f"{name}.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "tuning", "--params", PARAMS],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def running_trial(storage, worker, timeout_s=300):
    """The worker's trial once it is running and has reported an epoch to Optuna and MLflow."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker ended before its trial ran"
        try:
            # Without creating tables: that is the worker's part.
            rdb = optuna.storages.RDBStorage(storage, skip_table_creation=True)
            study = optuna.load_study(study_name=STUDY, storage=rdb)
        except (
            sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.IntegrityError,  # both stamped the schema version at once
            optuna.exceptions.StorageInternalError,
            KeyError,
        ):  # no database, tables or study yet, or the worker is creating them
            study = None
        for trial in study.get_trials(states=[TrialState.RUNNING]) if study else []:
            if trial.intermediate_values and "mlflow_run_id" in trial.user_attrs:
                return trial
        time.sleep(0.2)
    raise AssertionError(f"no trial was running within {timeout_s} s")


@pytest.mark.e2e
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_killed_worker_s_trial_is_failed_retried_and_its_runs_do_not_stay_running(
    kedro_project,
):
    write_random_split(kedro_project)
    storage = f"sqlite:///{kedro_project / 'data/06_models/optuna.db'}"

    workers = [start_worker(kedro_project, "first")]
    try:
        # Trial 0 of the new study: the enqueued training parameters, killed mid-training.
        killed = running_trial(storage, workers[0])
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=60)
        time.sleep(3)  # past the grace period: its heartbeat is stale

        workers.append(start_worker(kedro_project, "second"))
        returncode = workers[1].wait(timeout=600)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert returncode == 0, (kedro_project / "second.log").read_text()[-5000:]

    stale, retry = optuna.load_study(study_name=STUDY, storage=storage).trials
    assert stale.number == killed.number == 0
    assert stale.state == TrialState.FAIL
    assert optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == 0
    # The defaults were evaluated after all, by the retry.
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs["enqueued"] == "training parameters"
    assert retry.params == stale.params

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name("vaeops").experiment_id
    runs = {run.info.run_id: run for run in client.search_runs([experiment_id])}
    dead_child = runs[stale.user_attrs["mlflow_run_id"]]
    dead_parent = runs[dead_child.data.tags["mlflow.parentRunId"]]
    assert (dead_child.info.status, dead_parent.info.status) == ("KILLED", "KILLED")
    retry_run = runs[retry.user_attrs["mlflow_run_id"]]
    assert retry_run.data.tags["optuna.retry_of_run"] == dead_child.info.run_id
    assert retry_run.info.status == "FINISHED"
    assert [run.info.status for run in runs.values()].count("RUNNING") == 0
    assert len(runs) == 4, "two workers' parent runs and one child run each"
