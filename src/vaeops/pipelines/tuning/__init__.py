"""Optuna search of the KL cap β, latent size and training settings on the validation users."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
