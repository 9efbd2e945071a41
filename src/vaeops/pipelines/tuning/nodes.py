"""The tuning pipeline's nodes: the study of the ``training`` block and the comparison on
the test users that follows it. Both are use cases of ``jobs.tuning`` (they open Optuna
studies and MLflow runs, which pipelines leave to jobs), typed by the settings schema:
``tuning`` arrives as ``TuningParameters``, checked before the run."""

import scipy.sparse as sp

from vaeops.data.settings import DatasetParameters
from vaeops.jobs import tuning as jobs
from vaeops.recommenders.settings import (
    EvaluationParameters,
    TrainingParameters,
    TuningParameters,
)

__all__ = ["compare_on_test", "tune_hyperparameters"]


def tune_hyperparameters(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: TrainingParameters,
    tuning: TuningParameters,
    dataset: DatasetParameters,
) -> dict:
    return jobs.tune_hyperparameters(
        train_matrix, validation_fold_in, validation_target, training, tuning, dataset
    )


def compare_on_test(  # noqa: PLR0913 (five matrices and the settings)
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    best_params: dict,
    training: TrainingParameters,
    evaluation: EvaluationParameters,
    dataset: DatasetParameters,
) -> dict:
    return jobs.compare_on_test(
        train_matrix,
        validation_fold_in,
        validation_target,
        test_fold_in,
        test_target,
        best_params,
        training,
        evaluation,
        dataset,
    )
