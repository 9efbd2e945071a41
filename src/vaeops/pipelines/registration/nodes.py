"""The registration pipeline's node: the run's model registered in MLflow, champion only
if there is none yet (vaeops.jobs.registration)."""

from vaeops.jobs.registration import register_model as register_trained_model

__all__ = ["register_trained_model"]
