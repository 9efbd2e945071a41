"""Baselines and autoencoders trained on one split, scored by one evaluation, compared."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
