"""Test-set NDCG and Recall of the trained model and the popularity floor."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
