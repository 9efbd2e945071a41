"""Obtain the interaction log: local path, verified cache, download or PyPI mirror."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
