"""The evaluation pipeline's node: the saved model scored on the test users beside the
popularity floor (vaeops.jobs.evaluation)."""

from vaeops.jobs.evaluation import evaluation_run as evaluate_on_test

__all__ = ["evaluate_on_test"]
