"""Baselines and autoencoders chosen on validation users, then scored once on the test users
by one evaluation, and compared."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
