"""The benchmark with one nested MLflow run per model, under the kedro-mlflow run.

A benchmark trains several models in one ``kedro run``; giving each its own
child run keeps their parameters, epoch curves and test metrics apart in the
UI while the parent run holds the comparison table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
import scipy.sparse as sp

from vaeops.integrations.config import flattened, merged
from vaeops.integrations.tracking import start_child_run
from vaeops.integrations.training_run import train_from_parameters
from vaeops.recommenders.benchmark import BASELINES, fit_and_score, selected_models
from vaeops.recommenders.training import TrainingResult


def benchmark_models(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    benchmark: dict,
    training: dict,
) -> dict[str, dict[str, Any]]:
    """Train each selected model on ``train`` and score all of them on the same test users.

    Without validation users the autoencoders train for all their epochs and keep the last.
    """
    settings = {
        name: _model_settings(name, benchmark, training) for name in selected_models(benchmark)
    }

    def train_autoencoder(name: str, autoencoder: dict) -> TrainingResult:
        result, _ = train_from_parameters(
            train, validation_fold_in, validation_target, autoencoder, progress_label=name
        )
        return result

    return fit_and_score(
        settings,
        train,
        test_fold_in,
        test_target,
        benchmark["evaluation"],
        benchmark["headline_metric"],
        train_autoencoder,
        model_run,
    )


def _model_settings(name: str, benchmark: dict, training: dict) -> dict:
    """A baseline's keyword arguments, or params:training with the autoencoder's overrides."""
    if name in BASELINES:
        return dict(benchmark["baselines"].get(name) or {})
    return merged(training, benchmark["autoencoders"][name] or {})


@contextmanager
def model_run(
    model: str, params: Mapping[str, Any]
) -> Iterator[Callable[[Mapping[str, float]], None]]:
    """Make a child run of the active run current while ``model`` trains and is scored;
    yield the function that logs the model's metrics.

    Without an active run (tracking disabled) the model still runs, untracked.
    """
    if mlflow.active_run() is None:
        yield log_model_metrics
        return
    with start_child_run(model):
        mlflow.set_tag("benchmark.model", model)
        mlflow.log_params(flattened(params))
        yield log_model_metrics


def log_model_metrics(metrics: Mapping[str, float]) -> None:
    """Log to the current model run; untracked runs have nowhere to log."""
    if mlflow.active_run() is not None:
        mlflow.log_metrics(dict(metrics))
