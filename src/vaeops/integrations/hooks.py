"""Kedro hooks of the project."""

import os

import click
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from vaeops.errors import DataError
from vaeops.integrations.parameters import check_parameters

TRACEBACK_VARIABLE = "VAEOPS_TRACEBACK"


class ParameterCheckHooks:
    """Checks every parameter, ``--params`` included, before anything runs.

    ``tryfirst``: kedro-mlflow's own after_context_created sets up the tracking store
    and experiment, and its before_pipeline_run opens the run that a failing node would
    leave FAILED; this check runs ahead of both. It reads the parameters from the
    config loader, as ``context.params`` would first import every pipeline.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.config_loader["parameters"])


class NodeDataError(click.ClickException, DataError):
    """A DataError raised in a node. As a ClickException, `kedro run` prints just the
    message and exits with status 1; as a DataError, callers catch it as before."""


class DataErrorHooks:
    """Shows a DataError from a node as its message and the node's name, not a traceback.

    A DataError is about the user's input and its message says what to change; the 200
    lines of Kedro's and click's frames above it would bury that. Setting
    VAEOPS_TRACEBACK=1 keeps the traceback (`kedro run` has no --verbose). ``trylast``:
    every other on_node_error hook still runs first.
    """

    @hook_impl(trylast=True)
    def on_node_error(self, error: Exception, node: Node) -> None:
        if (
            isinstance(error, DataError)
            and not isinstance(error, click.ClickException)
            and os.environ.get(TRACEBACK_VARIABLE, "") in ("", "0")
        ):
            raise NodeDataError(
                f"node {node.name} stopped on its input: {error}\n"
                f"(Set {TRACEBACK_VARIABLE}=1 to see the traceback.)"
            ) from error
