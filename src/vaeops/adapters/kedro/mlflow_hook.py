"""kedro-mlflow's hook with secrets masked before they reach MLflow.

kedro-mlflow logs every parameter a node reads and copies Kedro's run parameters
(``--params`` among them) into tags, so ``--params tuning.study.storage=
postgresql://alice:S3cret@host/optuna`` would store the password in the run. This
subclass masks both (``vaeops.secrets``); ``settings.py`` registers it in place of the
plugin's own instance (``DISABLE_HOOKS_FOR_PLUGINS``). MLflow params cannot be changed
once logged, so masking has to happen before, not after.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from vaeops.adapters.kedro.console import import_kedro_mlflow_quietly
from vaeops.config import plain_settings
from vaeops.secrets import mask_secrets

# First, so that kedro-mlflow's import of its model class warns of nothing users can fix.
import_kedro_mlflow_quietly()

from kedro_mlflow.framework.hooks import MlflowHook  # noqa: E402

# The distribution whose registered hook this one replaces.
KEDRO_MLFLOW_PLUGIN = "kedro_mlflow"


class SecretMaskingMlflowHook(MlflowHook):
    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        super().before_pipeline_run(mask_secrets(run_params), pipeline, catalog)

    @hook_impl
    def before_node_run(
        self, node: Node, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool
    ) -> None:
        super().before_node_run(node, catalog, plain_settings(inputs), is_async)

    def _log_param(self, name: str, value: Any) -> None:
        super()._log_param(name, mask_secrets(value, name))
