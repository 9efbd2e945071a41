"""Liang et al. strong-generalisation split into sparse matrices."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
