"""vaeops: Mult-VAE recommendation and VAE data augmentation.

The modules directly under this package are the core (torch, numpy, scipy and,
for tabular ingestion only, pandas). Kedro and MLflow live in
``vaeops.pipelines`` and ``vaeops.integrations`` so the core runs on machines
that have neither.
"""

__version__ = "0.1.0"
