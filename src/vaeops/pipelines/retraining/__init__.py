"""Scheduled retraining: a challenger on the current data replaces the champion only if it wins."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
