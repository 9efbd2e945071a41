"""`kedro run` with a misspelt parameter, as a user runs it: a short error, and no
MLflow run left behind."""

import subprocess
import sys
import time

import mlflow

from tests.helpers.mlflow_store import fresh_sqlite_store


def refused_run(kedro_project, pipeline: str, params: str) -> subprocess.CompletedProcess:
    """`kedro run --pipelines <pipeline> --params <params>` in the project's copy, which
    must fail without a traceback."""
    finished = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", pipeline, "--params", params],
        cwd=kedro_project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode != 0, output
    assert "Traceback" not in output
    return finished


def test_a_misspelt_parameter_stops_kedro_run_before_mlflow_with_one_message(kedro_project):
    tracking_uri = fresh_sqlite_store(kedro_project / "mlflow.db")  # the copy's store

    started = time.perf_counter()
    finished = refused_run(kedro_project, "training", "training.learnin_rate=0.01")
    seconds = time.perf_counter() - started
    assert seconds < 30, finished.stdout + finished.stderr
    # click prints the error alone on stderr; Kedro's log lines go to stdout.
    heading, problem = finished.stderr.strip().splitlines()
    assert heading.startswith("Error: Invalid parameters")
    key, valid_keys = problem.strip().split(": unknown key; valid keys of training: ")
    assert key == "training.learnin_rate"
    assert "learning_rate" in valid_keys.split(", ")
    client = mlflow.MlflowClient(tracking_uri)
    assert [experiment.name for experiment in client.search_experiments()] == ["Default"]
    assert client.search_runs(["0"]) == []


def test_a_search_the_trained_model_ignores_stops_the_tuning_run_before_mlflow(kedro_project):
    """The check across the training and tuning blocks holds for a run that tunes: it
    fails as the pipeline starts, before kedro-mlflow opens a run."""
    tracking_uri = fresh_sqlite_store(kedro_project / "mlflow.db")

    finished = refused_run(kedro_project, "tuning", "training.model.kind=multdae")
    heading, problem = finished.stderr.strip().splitlines()
    assert heading.startswith("Error: Invalid parameters")
    assert problem.strip().startswith(
        "tuning.search_space varies ['anneal_cap', 'anneal_share'], settings that change "
        "nothing here: a multdae has no annealed KL weight"
    )
    client = mlflow.MlflowClient(tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    assert client.search_runs(experiments) == []
