"""Optuna's side: studies whose trials are nested MLflow runs (storage: where a study
lives and its stale trials; search: sampler, pruner and search space; trials: the
trials as MLflow runs; summary: the outcome)."""
