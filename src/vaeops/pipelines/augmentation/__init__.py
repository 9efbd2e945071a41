"""Does synthetic data from a conditional VAE, Gaussian noise or SMOTE improve a classifier
trained on a small or imbalanced labelled data set? Tuned, repeated, compared honestly."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
