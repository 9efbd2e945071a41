"""Kedro project settings."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets mlflow.yml read MLFLOW_TRACKING_URI, so a server can be set per shell.
    "custom_resolvers": {"oc.env": oc.env},
}
