"""Train Mult-VAE (or Mult-DAE) with the best-validation checkpoint."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
