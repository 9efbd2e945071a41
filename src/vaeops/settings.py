"""Kedro project settings."""

import warnings

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from vaeops.integrations.hooks import (
    DataErrorHooks,
    MlflowRecordHooks,
    ParameterCheckHooks,
    RunSummaryHooks,
)
from vaeops.integrations.run_status import RunStatusHooks
from vaeops.integrations.tracking_server import TrackingServerHooks

HOOKS = (
    ParameterCheckHooks(),
    DataErrorHooks(),
    TrackingServerHooks(),
    RunStatusHooks(),
    MlflowRecordHooks(),
    RunSummaryHooks(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets mlflow.yml read MLFLOW_TRACKING_URI, so a server can be set per shell.
    "custom_resolvers": {"oc.env": oc.env},
}

# A deprecation raised inside kedro and kedro-mlflow on every run; users can do
# nothing about it, and it would bury the run's own warnings.
warnings.filterwarnings(
    "ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning
)
