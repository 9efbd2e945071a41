"""The use cases the pipelines call: training, tuning, the benchmark and the
augmentation study, each tracked in MLflow through the adapters."""
