"""Kedro project settings."""

import warnings

from vaeops.adapters.kedro.checkpoints import CheckpointHooks
from vaeops.adapters.kedro.config_loader import RESOLVERS, EnvironmentMergingConfigLoader
from vaeops.adapters.kedro.console import plain_lines_off_terminal
from vaeops.adapters.kedro.hooks import (
    DataErrorHooks,
    MlflowRecordHooks,
    NodeProgressHooks,
    ParameterCheckHooks,
    RunSummaryHooks,
)
from vaeops.adapters.kedro.mlflow_hook import KEDRO_MLFLOW_PLUGIN, SecretMaskingMlflowHook
from vaeops.adapters.kedro.run_status import RunStatusHooks
from vaeops.adapters.kedro.tracking_server import TrackingServerHooks

HOOKS = (
    ParameterCheckHooks(),
    DataErrorHooks(),
    TrackingServerHooks(),
    RunStatusHooks(),
    NodeProgressHooks(),
    MlflowRecordHooks(),
    RunSummaryHooks(),
    CheckpointHooks(),
    # Last, so it runs first (pluggy calls the latest registered first), as kedro-mlflow's
    # own hook did when Kedro registered it after the project's.
    SecretMaskingMlflowHook(),
)

# kedro-mlflow's own hook would log secrets; SecretMaskingMlflowHook is it, masked.
DISABLE_HOOKS_FOR_PLUGINS = (KEDRO_MLFLOW_PLUGIN,)

CONFIG_LOADER_CLASS = EnvironmentMergingConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": RESOLVERS,
}

# A deprecation raised inside kedro and kedro-mlflow on every run; users can do
# nothing about it, and it would bury the run's own warnings.
warnings.filterwarnings(
    "ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning
)

# Kedro imports this module before a session logs its first line: from here on, output
# that is not a terminal gets plain lines (conf/logging.yml says why).
plain_lines_off_terminal()
