"""Parameters resolved once, after every environment and ``--params`` are merged.

Several blocks are derived in YAML from others (``benchmark.autoencoders`` from
``training``, the given split's benchmark from ``benchmark``) with the ``merge``
resolver, so ``kedro run`` and MLflow show the settings that run. Kedro's own loader
resolves conf/base before it merges conf/local over it, so a local override of
``training`` would never reach a block derived from it; and it merges ``--params``
into each environment apart, so one override in conf/local replaced whole conf/base
blocks. This loader merges as Kedro does (an environment's block replaces conf/base's
whole, ``--params`` change single keys), then resolves everything together. An
environment's ``overrides`` block changes single keys as ``--params`` do (the tuning
pipeline's best_params.yml is one), before ``--params``. Catalog
and other configuration load as Kedro loads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, OmegaConf
from omegaconf.resolvers import oc

from vaeops.config import OVERRIDES


def merge(*blocks: Any) -> dict[str, Any]:
    """``${merge:${a},${b},{key: ${c}}}``: the blocks merged key by key, each one over
    those before it."""
    plain = [_resolved(block) for block in blocks]
    for block in plain:
        if not isinstance(block, Mapping):
            raise TypeError(f"merge takes mappings; got {block!r}")
    return OmegaConf.to_container(OmegaConf.merge(*plain))


def _resolved(value: Any) -> Any:
    """``value`` as plain containers, every interpolation in it resolved where it stands
    (an inline ``{key: ${c}}`` holds ``c``'s node, whose own interpolations are unresolved)."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item) for item in value]
    return value


def data_name(name: str, path: str | None) -> str:
    """``${data_name:${dataset.name},${dataset.path}}``: the data set's name, or a
    ``custom`` file's stem, as a registered model's name may hold it: lower case, each run
    of characters other than letters, digits, ``.``, ``_`` and ``-`` one ``-`` (MLflow
    refuses ``/`` and ``:``), e.g. "ml-100k", or "shop-clicks" for "Shop Clicks.csv"."""
    label = Path(path).stem if name == "custom" and path else name
    return re.sub(r"[^a-z0-9._-]+", "-", label.lower()).strip("-") or name


# oc.env lets mlflow.yml read MLFLOW_TRACKING_URI, so a server can be set per shell;
# merge derives blocks from others, e.g. benchmark.autoencoders from training; data_name
# names the registered model after its data.
RESOLVERS = {"oc.env": oc.env, "merge": merge, "data_name": data_name}


class EnvironmentMergingConfigLoader(OmegaConfigLoader):
    """Kedro's OmegaConfigLoader, with parameters merged across environments before
    they are resolved (see the module's docstring)."""

    def _resolve_from_raw_config(  # noqa: PLR0913 (Kedro's signature)
        self,
        key: str,
        base_configs: dict[Path, DictConfig],
        env_configs: dict[Path, DictConfig],
        base_path: str,
        env_path: str,
        processed_files: set[Path],
    ) -> dict[str, Any]:
        if key != "parameters":
            return super()._resolve_from_raw_config(
                key, base_configs, env_configs, base_path, env_path, processed_files
            )
        # As Kedro merges them: a block of the environment replaces conf/base's whole,
        # its overrides and then --params change single keys; then everything is
        # resolved together.
        merged = OmegaConf.unsafe_merge(DictConfig({}), *base_configs.values())
        if (self.env or self.default_run_env) != self.base_env:
            for block in OmegaConf.unsafe_merge(DictConfig({}), *env_configs.values()):
                if block != OVERRIDES:
                    merged[block] = env_configs_block(env_configs, block)
            if any(OVERRIDES in config for config in env_configs.values()):
                merged = OmegaConf.unsafe_merge(merged, env_configs_block(env_configs, OVERRIDES))
        merged = OmegaConf.unsafe_merge(merged, self.runtime_params or {})
        return OmegaConf.to_container(merged, resolve=True)


def env_configs_block(env_configs: dict[Path, DictConfig], block: str) -> Any:
    """``block`` as the environment's files give it (one file holds each block)."""
    return OmegaConf.unsafe_merge(
        *(config[block] for config in env_configs.values() if block in config)
    )


def project_parameters(
    conf_source: str | Path = "conf", env: str = "local", runtime_params: dict | None = None
) -> dict[str, Any]:
    """The parameters a ``kedro run --env <env> --params ...`` in this project resolves,
    for tools and tests that read them outside a Kedro session."""
    loader = EnvironmentMergingConfigLoader(
        conf_source=str(conf_source),
        base_env="base",
        default_run_env=env,
        custom_resolvers=RESOLVERS,
        runtime_params=runtime_params,
    )
    return loader["parameters"]
