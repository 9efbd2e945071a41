"""Register the trained model in the MLflow model registry; the first one becomes champion."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
