"""Kedro hooks of the project."""

import logging
import os
import time
from pathlib import Path
from typing import Any

import click
import mlflow
import pandas as pd
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines
from kedro.io import CatalogProtocol
from kedro.pipeline import Node, Pipeline

from vaeops.adapters.kedro.parameters import check_parameters, load_parameters
from vaeops.adapters.kedro.run_summary import (
    RunSummary,
    catalog_filepaths,
    data_sets,
    format_summary,
    mlflow_facts,
    pipeline_purposes,
    read_results,
    report_paths,
    run_description,
    run_title,
    serve_fact,
    served_model_uri,
)
from vaeops.adapters.mlflow.lineage import (
    current_git_commit,
    dataset_label,
    given_split_interactions,
    interactions_source,
    log_interactions_input,
)
from vaeops.adapters.mlflow.tracking import (
    describe_experiment,
    name_and_describe_run,
    set_run_tags,
)
from vaeops.config import plain_settings
from vaeops.errors import DataError

TRACEBACK_VARIABLE = "VAEOPS_TRACEBACK"

logger = logging.getLogger(__name__)


class NodeProgressHooks:
    """Logs "node k of n: name" as each node starts.

    Kedro's own "Running node" line spells out every input and output, and its
    "Completed k out of n tasks" comes after the node; conf/logging.yml quiets both.
    """

    def __init__(self) -> None:
        self._total = 0
        self._started = 0

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        self._total, self._started = len(pipeline.nodes), 0

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._started += 1
        logger.info("node %d of %d: %s", self._started, self._total, node.name)


class ParameterCheckHooks:
    """Checks every parameter, ``--params`` included, before anything runs.

    ``tryfirst``: kedro-mlflow's own after_context_created sets up the tracking store
    and experiment, and its before_pipeline_run opens the run that a failing node would
    leave FAILED; this check runs ahead of both. It reads the parameters from the
    config loader, as ``context.params`` would first import every pipeline.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        self._parameters = load_parameters(context.config_loader)
        check_parameters(self._parameters)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        """The checks across blocks that hold for what this run reads only (a study's
        search against its training block), before kedro-mlflow opens its run."""
        read = {
            name.removeprefix("params:") for name in pipeline.inputs() if name.startswith("params:")
        }
        check_parameters(self._parameters, read)


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


# The datasets that hold the interactions a run ingested, logged as its MLflow input.
INGESTED_INTERACTIONS = ("interactions", "retraining_interactions")
# The Liang split preprocessing makes from SPLIT_SOURCE; a run that reads it from disk
# (benchmark, tuning, training alone) logs those interactions as its input.
SPLIT_SOURCE = "interactions"
LIANG_SPLIT = frozenset(
    {
        "train_matrix",
        "validation_fold_in",
        "validation_target",
        "test_fold_in",
        "test_target",
        "user_map",
        "item_map",
    }
)
GIVEN_SPLIT_DATASET = "params:benchmark_given_split.dataset"
EXPERIMENT_DESCRIPTION = (
    "vaeops: one run per `kedro run`. A run's name says what ran (pipeline · model · "
    "data), its description which pipelines and `--params`, its Dataset column the "
    'interactions it read. See the README, "See and compare runs in MLflow".'
)


class MlflowRecordHooks:
    """Makes the run kedro-mlflow opens findable in the MLflow UI: its name, description,
    ``dataset`` and ``git_commit`` tags, and the interactions it read as its input.

    kedro-mlflow names every run after the pipeline ("__default__"), copies Kedro's run
    parameters as tags (the runner's object repr among them) and logs no input data.
    ``trylast``: its own before_pipeline_run has opened the run.
    """

    def __init__(self) -> None:
        self._parameters: dict[str, Any] = {}
        self._run_id: str | None = None
        self._input_logged = False

    @hook_impl
    def after_context_created(self) -> None:
        # MLflow draws a progress bar for every artifact it reads back while registering
        # a model: five bars of noise in each `kedro run` log. Set it to true to see them.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    @hook_impl
    def after_catalog_created(self, parameters: dict[str, Any]) -> None:
        self._parameters = plain_settings(parameters["parameters"])

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        run = mlflow.active_run()
        self._run_id = run.info.run_id if run else None
        self._input_logged = False
        if run is None:  # tracking is disabled for this pipeline
            return
        names = run_params["pipeline_names"]
        title = run_title(names, self._parameters)
        purposes = pipeline_purposes([node.name for node in pipeline.nodes], pipelines)
        description = run_description(title, purposes, run_params["runtime_params"] or {})
        name_and_describe_run(run.info.run_id, title, description)
        describe_experiment(run.info.experiment_id, EXPERIMENT_DESCRIPTION)
        tags = {"dataset": ", ".join(block["name"] for block in data_sets(names, self._parameters))}
        if commit := current_git_commit():
            tags["git_commit"] = commit
        set_run_tags(tags)
        self._log_read_split(pipeline.inputs(), catalog)

    def _log_read_split(self, inputs: set[str], catalog: CatalogProtocol) -> None:
        """Log the interactions behind a split the run reads but does not make: the
        ingested file a Liang split on disk was made from, or both parts of a given split.
        A given split that cannot be read is left to the node that reads it, which says
        what is wrong."""
        if inputs & LIANG_SPLIT and catalog.exists(SPLIT_SOURCE):
            ingested = catalog.config_resolver.resolve_pattern(SPLIT_SOURCE)
            log_interactions_input(
                catalog.load(SPLIT_SOURCE),
                dataset_label(self._parameters["dataset"]),
                Path(ingested["filepath"]).resolve().as_uri(),
            )
            self._input_logged = True
        if GIVEN_SPLIT_DATASET in inputs:
            dataset = self._parameters["benchmark_given_split"]["dataset"]
            try:
                interactions = given_split_interactions(dataset)
            except DataError:
                return
            log_interactions_input(
                interactions, dataset_label(dataset), interactions_source(dataset)
            )
            self._input_logged = True

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        self._log_input(dataset_name, data)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        self._log_input(dataset_name, data)

    def _log_input(self, dataset_name: str, data: Any) -> None:
        """The first time the run writes or reads its interactions, whichever comes first."""
        if dataset_name not in INGESTED_INTERACTIONS or self._input_logged:
            return
        run = mlflow.active_run()
        if run is not None and isinstance(data, pd.DataFrame) and run.info.run_id == self._run_id:
            dataset = self._parameters["dataset"]
            log_interactions_input(data, dataset_label(dataset), interactions_source(dataset))
            self._input_logged = True


class RunSummaryHooks:
    """Ends every `kedro run` with a few lines on what it produced and where to look.

    ``trylast``: kedro-mlflow has opened the MLflow run before the pipeline, and has
    finished it, its log lines printed, after.
    """

    def __init__(self) -> None:
        self._parameters: dict[str, Any] = {}
        self._started = 0.0
        self._run: mlflow.entities.RunInfo | None = None

    @hook_impl
    def after_catalog_created(self, parameters: dict[str, Any]) -> None:
        self._parameters = plain_settings(parameters["parameters"])

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        self._started = time.perf_counter()
        run = mlflow.active_run()
        self._run = run.info if run else None

    @hook_impl(trylast=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        outputs = pipeline.all_outputs()
        table, facts = read_results(outputs, catalog.load, self._parameters)
        # Each output's entry as the catalog resolves it: its own, or a factory's.
        entries = {name: catalog.config_resolver.resolve_pattern(name) for name in outputs}
        reports = report_paths(outputs, catalog_filepaths(entries))
        facts += [("reports" if index == 0 else "", path) for index, path in enumerate(reports)]
        if self._run is not None:
            uri = mlflow.get_tracking_uri()
            facts += mlflow_facts(uri, self._run.experiment_id, self._run.run_id)
            if model_uri := served_model_uri(outputs, catalog.load):
                facts.append(serve_fact(uri, model_uri))
        summary = RunSummary(
            title=run_title(run_params["pipeline_names"], self._parameters),
            seconds=time.perf_counter() - self._started,
            table=table,
            facts=tuple(facts),
        )
        click.echo("\n" + format_summary(summary))
