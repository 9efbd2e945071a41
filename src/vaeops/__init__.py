"""vaeops: Mult-VAE recommendation and VAE data augmentation.

The core is split by domain: ``data`` (sources, splits, sparse matrices),
``recommenders``, ``augmentation``, ``statistics`` (Bayesian comparisons both
use) and ``reports`` (Markdown tables and figures). It imports no Kedro, MLflow or
Optuna. ``adapters`` holds one package per tool (``kedro``, ``mlflow``, ``optuna``);
``jobs`` holds the use cases the pipelines call, and ``pipelines`` only wires them.
"""

__version__ = "0.1.0"
