"""The benchmark on a train/test split that comes with the data (LightGCN's Gowalla)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
