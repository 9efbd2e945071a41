"""One package per tool the core is used through: Kedro (hooks, datasets, the
parameter schema's check), MLflow (tracking, lineage, registry, pyfunc) and Optuna
(studies). Adapters import the core, never a job."""
