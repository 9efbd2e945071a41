"""The benchmark on a train/test split that comes with the data (LightGCN's Gowalla or any
folder in its format), with validation users carved from the train part."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
