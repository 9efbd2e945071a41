"""The tuning pipeline's nodes: the study of the ``training`` block and the comparison on
the test users that follows it. Both are use cases of ``jobs.tuning`` (they open Optuna
studies and MLflow runs, which pipelines leave to jobs), typed by the settings schema:
``tuning`` arrives as ``TuningParameters``, checked before the run."""

from vaeops.jobs.tuning import compare_on_test, tune_hyperparameters

__all__ = ["compare_on_test", "tune_hyperparameters"]
