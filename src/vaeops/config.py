"""Merging and flattening of parameter blocks, by the libraries that already do it.

Blocks are merged by OmegaConf (key by key, into nested mappings) and flattened to
the dotted names kedro-mlflow logs (``training.model.latent_dim``) by pandas, so
every MLflow run, trial and nested run names a setting the same way.
"""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from omegaconf import OmegaConf
from pydantic import BaseModel

# An environment's block of changes to single keys of the parameters, applied after its
# other blocks replaced conf/base's (best_params.yml is one).
OVERRIDES = "overrides"


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied key by key, into nested mappings too."""
    return OmegaConf.to_container(OmegaConf.merge(dict(base), dict(overrides)))


def flattened(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys; ``prefix`` names the block (``training``)."""
    if not params:
        return {}
    flat = pd.json_normalize(dict(params), sep=".").to_dict("records")[0]
    return {f"{prefix}.{key}" if prefix else key: value for key, value in flat.items()}


def plain_settings(value: Any) -> Any:
    """``value`` with every settings model in it back as the dictionary it was read from.

    Kedro validates a node's parameters into the model its signature names before the
    run starts, so the run's parameters hold models; what reads them by key (the run's
    title, kedro-mlflow's logged params) sees the keys the YAML gave, as before."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: plain_settings(item) for key, item in value.items()}
    return value
