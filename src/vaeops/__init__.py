"""vaeops: Mult-VAE recommendation and VAE data augmentation.

The core is split by domain: ``data`` (sources, splits, sparse matrices),
``recommenders``, ``augmentation``, ``statistics`` (Bayesian comparisons both
use) and ``speed`` (throughput benchmarks). It imports no Kedro, MLflow or
Optuna; those live at the edge, in ``integrations`` and ``pipelines``.
"""

__version__ = "0.1.0"
