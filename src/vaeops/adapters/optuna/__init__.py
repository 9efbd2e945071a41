"""Optuna's side: studies whose trials are nested MLflow runs."""
