"""What the pipelines log to MLflow besides kedro-mlflow's datasets: live per-epoch
curves, nested runs, run tags, and the names and descriptions that make runs findable."""

from __future__ import annotations

import datetime
import shlex
import sys
import time
from pathlib import Path

import mlflow

from vaeops.reports.titles import RunFacts

# β is in a record only for a model whose KL weight is annealed.
EPOCH_METRICS = ("loss", "neg_log_likelihood", "kl", "beta", "epoch_seconds")


class MlflowEpochLogger:
    """Trainer callback: one MLflow metric-history point per epoch (step = epoch).

    Validation metrics keep their ``val_`` prefix and become ``val/<name>`` (the best
    so far, ``best_val_<name>``, becomes ``val/best_<name>``), the training terms become
    ``train/<name>``, as the UI groups metrics by prefix.
    """

    def __init__(self, run_id: str | None = None):
        self._run_id = run_id

    def __call__(self, record: dict[str, float]) -> None:
        run_id = self._run_id or active_run_id()
        if run_id is None:
            return
        metrics = {f"train/{name}": record[name] for name in EPOCH_METRICS if name in record}
        for name, value in record.items():
            if name.startswith("val_"):
                metrics[f"val/{name.removeprefix('val_')}"] = value
            elif name.startswith("best_val_"):
                metrics[f"val/best_{name.removeprefix('best_val_')}"] = value
        mlflow.tracking.MlflowClient().log_batch(
            run_id,
            metrics=[
                mlflow.entities.Metric(key, float(value), _now_ms(), int(record["epoch"]))
                for key, value in metrics.items()
            ],
        )


def start_child_run(run_name: str) -> mlflow.ActiveRun:
    """A run nested under the active one, in the parent's experiment.

    Without ``experiment_id`` MLflow files the child under its default
    experiment whenever the parent was opened by kedro-mlflow in another one.
    """
    parent = mlflow.active_run()
    return mlflow.start_run(
        nested=True,
        run_name=run_name,
        experiment_id=parent.info.experiment_id if parent else None,
    )


def set_run_tags(tags: dict[str, str]) -> None:
    """Tag the active run; without one (tracking disabled) there is nothing to tag."""
    if mlflow.active_run() is not None:
        mlflow.set_tags(tags)


def active_run_id() -> str | None:
    """The MLflow run this Kedro run logs to, to cross-reference decisions and runs."""
    run = mlflow.active_run()
    return run.info.run_id if run else None


def run_facts(dataset: str) -> RunFacts:
    """What a report's title says of this run: the data set, the MLflow run, the
    command that started the process (``kedro run ...``) and today's date."""
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    return RunFacts(dataset, active_run_id(), command, datetime.date.today().isoformat())


def metric_history(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``metrics`` as kedro-mlflow's ``MlflowMetricsHistoryDataset`` takes them: one
    point each, at step 0."""
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}


def _now_ms() -> int:
    return int(time.time() * 1000)


# Tags kedro-mlflow copies from Kedro's run parameters that say nothing about the run:
# the runner's object repr (with its memory address) and Kedro's session id, which
# readers mistake for the MLflow run id.
KEDRO_INTERNAL_TAGS = ("runner", "run_id")
DESCRIPTION_TAG = "mlflow.note.content"  # the description the MLflow UI shows and edits


def name_and_describe_run(run_id: str, name: str, description: str) -> None:
    """Give the run a name and a description, and drop ``KEDRO_INTERNAL_TAGS``."""
    client = mlflow.MlflowClient()
    client.update_run(run_id, name=name)
    client.set_tag(run_id, DESCRIPTION_TAG, description)
    tags = client.get_run(run_id).data.tags
    for tag in KEDRO_INTERNAL_TAGS:
        if tag in tags:
            client.delete_tag(run_id, tag)


def describe_experiment(experiment_id: str, description: str) -> None:
    """Describe the experiment unless it has a description, which may be the user's own."""
    client = mlflow.MlflowClient()
    if DESCRIPTION_TAG not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, DESCRIPTION_TAG, description)
