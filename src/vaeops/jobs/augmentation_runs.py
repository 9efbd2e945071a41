"""MLflow runs of the augmentation study: one nested run per data set x regime x arm.

The kedro-mlflow run is the parent. An arm's run is made when the arm is tuned
(its Optuna trials nest under it) and gets its scores, posterior probabilities
and verdicts once the comparison is done, so the UI shows each arm's whole story
in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from vaeops.adapters.mlflow.tracking import start_child_run
from vaeops.augmentation.settings import METRICS

PROBABILITIES = ("p_better", "p_rope", "p_worse")


@contextmanager
def arm_run(dataset: str, regime: str, arm: str) -> Iterator[str]:
    """A child run of the active run, tagged with what it is about; yields its run id."""
    with start_child_run(f"{dataset}/{regime}/{arm}") as run:
        mlflow.set_tags(
            {
                "augmentation.dataset": dataset,
                "augmentation.regime": regime,
                "augmentation.arm": arm,
            }
        )
        yield run.info.run_id


def log_settings(settings: Mapping[str, Any]) -> None:
    """The settings the arm runs with, as ``settings.<name>`` params of the active run."""
    if settings:
        mlflow.log_params({f"settings.{key}": value for key, value in settings.items()})


def log_comparison(summary: pd.DataFrame, tests: pd.DataFrame, arm_settings: Mapping) -> None:
    """Each arm's means, sds, synthetic-row counts, probabilities and verdicts into its own
    run, found by the ``mlflow_run_id`` its tuning recorded."""
    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    for (name, regime, arm), rows in summary.groupby(["dataset", "regime", "arm"], sort=False):
        run_id = arm_settings[name][regime][arm]["mlflow_run_id"]
        metrics = {}
        for row in rows.itertuples():
            for metric in METRICS:
                metrics[f"{row.classifier}/{metric}/mean"] = getattr(row, f"{metric}_mean")
                metrics[f"{row.classifier}/{metric}/sd"] = getattr(row, f"{metric}_sd")
            metrics[f"{row.classifier}/n_synthetic"] = row.n_synthetic
        if len(tests):
            arm_tests = tests[
                (tests["dataset"] == name) & (tests["regime"] == regime) & (tests["arm"] == arm)
            ]
            for test in arm_tests.itertuples():
                for probability in PROBABILITIES:
                    metrics[f"{test.classifier}/{test.metric}/{probability}"] = getattr(
                        test, probability
                    )
        client.log_batch(
            run_id,
            metrics=[
                mlflow.entities.Metric(key, float(value), now, 0)
                for key, value in metrics.items()
                if np.isfinite(value)
            ],
        )
        client.set_tag(run_id, "augmentation.n_train", f"{rows['n_train'].mean():.0f}")
        for row in rows.itertuples():
            client.set_tag(run_id, f"verdict.{row.classifier}", row.verdict)
