"""The benchmark with one nested MLflow run per model, under the kedro-mlflow run.

A benchmark trains several models in one ``kedro run``; giving each its own
child run keeps their parameters, choices, epoch curves and test metrics apart
in the UI while the parent run holds the comparison table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
import scipy.sparse as sp

from vaeops.adapters.mlflow.tracking import metric_history, start_child_run
from vaeops.config import flattened, plain_settings
from vaeops.data.settings import DatasetParameters, GivenSplitDatasetParameters
from vaeops.jobs.titles import titled_report
from vaeops.jobs.training import train_from_parameters
from vaeops.recommenders.benchmark import (
    BenchmarkData,
    BenchmarkParameters,
    ModelLog,
    ModelSettings,
    Validation,
    benchmark_report,
    fit_and_score,
)
from vaeops.recommenders.settings import TrainingParameters
from vaeops.recommenders.training import TrainingResult
from vaeops.reports.benchmark import benchmark_markdown


def benchmark_models(data: BenchmarkData, benchmark: BenchmarkParameters) -> dict[str, Any]:
    """Choose, fit and score each selected model on ``data``: baselines their grid values
    and autoencoders their epoch, all on validation NDCG@``benchmark.validation_k``; an
    autoencoder's block (derived in YAML) may set its own ``validation_k``."""
    settings = {name: benchmark.model_settings(name) for name in benchmark.selected_models()}
    return fit_and_score(
        settings,
        data,
        benchmark.evaluation,
        benchmark.headline_metric,
        benchmark.validation_k,
        train_autoencoder,
        model_run,
    )


def train_autoencoder(
    name: str, training: TrainingParameters, train: sp.csr_matrix, validation: Validation | None
) -> TrainingResult:
    """Train with live curves in the model's run; a refit (no validation) logs to a run of
    its own under it, so that its epochs do not overwrite those of the run that chose."""
    if validation is None:
        with _nested_run(f"{name} refit", training):
            return train_from_parameters(
                train, None, None, training, progress_label=f"{name} refit"
            )
    return train_from_parameters(train, *validation, training, progress_label=name)


def report_benchmark(
    results: dict[str, Any],
    benchmark: BenchmarkParameters,
    dataset: DatasetParameters | GivenSplitDatasetParameters,
) -> dict[str, Any]:
    """The benchmark's report, the same in Markdown under its title, and each model's
    headline test metric as ``<headline>.<model>`` (e.g. ``ndcg_at_100.ease``) for the
    parent run, so that the runs list compares the models without opening the nested
    runs."""
    report = benchmark_report(results, benchmark)
    headline = report["headline_metric"]
    return {
        "report": report,
        "report_markdown": titled_report(benchmark_markdown(report), dataset),
        "metrics": metric_history(
            {f"{headline}.{name}": scores[headline] for name, scores in report["models"].items()}
        ),
    }


@contextmanager
def model_run(model: str, params: ModelSettings) -> Iterator[ModelLog]:
    """Make a child run of the active run current while ``model`` is chosen, fitted and
    scored; yield its log.

    Without an active run (tracking disabled) the model still runs, untracked.
    """
    if mlflow.active_run() is None:
        yield _Untracked()
        return
    with _nested_run(model, params):
        mlflow.set_tag("benchmark.model", model)
        yield mlflow  # its log_params, log_metrics and set_tags write to the child run


@contextmanager
def _nested_run(name: str, params: ModelSettings) -> Iterator[None]:
    """A child run of the active run holding ``params`` (a block as its YAML gave it);
    nothing without an active run."""
    if mlflow.active_run() is None:
        yield
        return
    with start_child_run(name):
        mlflow.log_params(flattened(plain_settings(params)))
        yield


class _Untracked:
    """The log of a model run while tracking is disabled: nowhere to log."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        pass

    def set_tags(self, tags: Mapping[str, str]) -> None:
        pass
