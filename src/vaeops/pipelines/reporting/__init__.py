"""Pictures and tables of the trained Mult-VAE's latent space, logged to MLflow."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
