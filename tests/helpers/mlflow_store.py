"""Ready-made MLflow SQLite stores for tests.

Creating a new store runs every MLflow schema migration, about 10 s on a busy
2-core machine; copying an already migrated, empty store takes milliseconds.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import mlflow

from tests.conftest import REPO_ROOT
from vaeops.recommenders.retraining import interactions_fingerprint


@cache
def _migrated_empty_store() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vaeops-mlflow-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def fresh_sqlite_store(path: Path) -> str:
    """An empty, migrated store at ``path``, its artifacts beside it; returns its tracking URI."""
    shutil.copy(_migrated_empty_store(), path)
    # The copied Default experiment still points at the template's folder.
    with sqlite3.connect(path) as database:
        database.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            ((path.parent / "mlruns" / "0").as_uri(),),
        )
    return f"sqlite:///{path}"


@contextmanager
def tracking_into(folder: Path) -> Iterator[mlflow.MlflowClient]:
    """Track runs and models into a fresh store in ``folder``; the previous URI comes back after."""
    previous_uri = mlflow.get_tracking_uri()
    uri = fresh_sqlite_store(folder / "mlflow.db")
    mlflow.set_tracking_uri(uri)
    try:
        yield mlflow.MlflowClient(uri)
    finally:
        mlflow.set_tracking_uri(previous_uri)


def assert_records_its_data(run: mlflow.entities.Run, dataset: str, interactions):
    """``run`` (a kedro-mlflow run, read back) names its data as every pipeline's run
    does: one Dataset input, ``interactions`` by digest, and the tags ``dataset`` and
    ``git_commit`` (the checkout's). MLflow keeps one dataset per name and digest in an
    experiment, with the source of the run that logged it first."""
    [logged] = run.inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == (
        dataset,
        interactions_fingerprint(interactions)[:36],
    )
    assert run.data.tags["dataset"] == dataset
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert run.data.tags["git_commit"] == commit.stdout.strip()
