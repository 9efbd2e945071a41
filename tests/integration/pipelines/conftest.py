from __future__ import annotations

import os
import shutil

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import REPO_ROOT


@pytest.fixture
def kedro_project(tmp_path, monkeypatch):
    """A throwaway copy of the project's config, so runs never touch the checkout's
    data/ or mlflow.db; the package itself is the installed one."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", project)
    (project / "src").mkdir()  # kedro insists on it; the package itself is installed
    shutil.copytree(REPO_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    bootstrap_project(project)
    yield project
    # kedro-mlflow leaves its run, tracking URI and experiment set for the whole
    # process; reset them so later tests start from MLflow's defaults.
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def run_kedro(kedro_project):
    def run(pipeline_name: str = "__default__", **runtime_params) -> dict:
        with KedroSession.create(
            project_path=kedro_project, runtime_params=runtime_params
        ) as session:
            return session.run(pipeline_names=[pipeline_name])

    return run


@pytest.fixture
def nested_runs(kedro_project):
    """``(client, parent, children)`` of the project's run of pipeline ``parent_name``
    (run names start with the pipeline: ``benchmark · ml-100k``): its nested child
    runs by name, as the benchmark pipelines log one per model."""

    def find(parent_name: str):
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("vaeops")
        runs = client.search_runs([experiment.experiment_id])
        parent = next(run for run in runs if run.info.run_name.split(" · ")[0] == parent_name)
        children = {
            run.info.run_name: run
            for run in runs
            if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id
        }
        return client, parent, children

    return find
