"""Merging and flattening of parameter blocks, by the libraries that already do it.

Blocks are merged by OmegaConf (key by key, into nested mappings) and flattened to
the dotted names kedro-mlflow logs (``training.model.latent_dim``) by pandas, so
every MLflow run, trial and nested run names a setting the same way.
"""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from omegaconf import OmegaConf


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied key by key, into nested mappings too."""
    return OmegaConf.to_container(OmegaConf.merge(dict(base), dict(overrides)))


def flattened(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys; ``prefix`` names the block (``training``)."""
    if not params:
        return {}
    flat = pd.json_normalize(dict(params), sep=".").to_dict("records")[0]
    return {f"{prefix}.{key}" if prefix else key: value for key, value in flat.items()}
