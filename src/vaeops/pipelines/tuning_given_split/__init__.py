"""The Optuna study of one of the given-split benchmark's autoencoders, on validation
users carved from the train part of a split that ships with the data."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
