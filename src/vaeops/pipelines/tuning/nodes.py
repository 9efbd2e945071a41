"""The tuning pipeline's nodes: the study and the test comparison (vaeops.jobs.tuning)."""

from vaeops.jobs.tuning import compare_on_test, tune_hyperparameters

__all__ = ["compare_on_test", "tune_hyperparameters"]
