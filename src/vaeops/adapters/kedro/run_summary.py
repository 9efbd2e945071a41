"""What a `kedro run` did, said in a few lines where it ends, and the names that make
its MLflow run findable.

Without it a run ends on Kedro's last log line: the results sit in files and in MLflow,
and a new user has to know where to look. The summary reads the run's own outputs
through the catalog (``read_results``) and says where the rest is: the reports, the
MLflow run and the command that serves the registered model.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vaeops.adapters.mlflow.lineage import dataset_label
from vaeops.config import flattened
from vaeops.reports.measurements import duration
from vaeops.secrets import mask_secrets, mask_text

# `kedro run` without --pipeline trains, evaluates and registers the model.
PIPELINE_LABELS = {"__default__": "training"}
# The pipelines that train the one model params:training describes.
MODEL_PIPELINES = frozenset({"__default__", "training", "tuning", "retraining"})
HEADLINE_METRICS = {
    "ndcg_at_100": "NDCG@100",
    "recall_at_20": "Recall@20",
    "recall_at_50": "Recall@50",
}
# Where `mlflow ui` serves when given no --host or --port.
MLFLOW_UI_ADDRESS = "http://127.0.0.1:5000"
SEPARATOR = " · "
PIPELINES_PACKAGE = "vaeops.pipelines"


@dataclass(frozen=True)
class RunSummary:
    """``table``: one row per model or arm; ``facts``: (label, text) lines."""

    title: str
    seconds: float
    table: pd.DataFrame | None = None
    facts: tuple[tuple[str, str], ...] = ()


def format_summary(summary: RunSummary) -> str:
    """The summary as the terminal shows it: a heading, the table, then one fact a line
    with the labels aligned."""
    lines = [f"{summary.title}: finished in {duration(summary.seconds)}"]
    if summary.table is not None:
        lines += ["", summary.table.to_markdown(floatfmt=".4f"), ""]
    width = max((len(label) for label, _ in summary.facts), default=0)
    lines += [f"{label:<{width}}  {text}" for label, text in summary.facts]
    return "\n".join(lines)


def run_title(pipeline_names: Sequence[str] | None, parameters: Mapping[str, Any]) -> str:
    """What ran, on which model and data, e.g. "training · multvae · ml-100k" or
    "benchmark · ml-100k": the MLflow run's name and the summary's heading."""
    names = list(pipeline_names or ["__default__"])
    parts = ["+".join(PIPELINE_LABELS.get(name, name) for name in names)]
    if MODEL_PIPELINES.intersection(names):
        parts.append(parameters["training"]["model"]["kind"])
    data = dict.fromkeys(dataset_label(block) for block in data_sets(names, parameters))
    return SEPARATOR.join([*parts, *data])


def data_sets(
    pipeline_names: Sequence[str] | None, parameters: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The data set blocks (name, path, ...) the pipelines read, each once, in order."""
    blocks = {}
    for name in pipeline_names or ["__default__"]:
        for block in _data_blocks(name, parameters):
            blocks.setdefault((block["name"], block.get("path")), block)
    return list(blocks.values())


def _data_blocks(pipeline_name: str, parameters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if pipeline_name == "augmentation":
        return [{"name": name} for name in parameters["augmentation"]["selected_datasets"]]
    if pipeline_name in ("benchmark_given_split", "tuning_given_split"):
        return [parameters["benchmark_given_split"]["dataset"]]
    return [parameters["dataset"]]


def run_description(title: str, purposes: Mapping[str, str], overrides: Mapping[str, Any]) -> str:
    """The MLflow run's description (markdown): what each pipeline in the run does, and
    the parameters given on the command line, secrets masked."""
    lines = [f"**{title}**", ""]
    lines += [f"- **{name}**: {purpose}" for name, purpose in purposes.items()]
    flat = mask_secrets(flattened(overrides))
    if flat:
        given = ", ".join(f"`{key}={value}`" for key, value in flat.items())
        lines += ["", f"Parameters given with `--params`: {given}"]
    return "\n".join(lines)


def pipeline_purposes(
    run_node_names: Sequence[str], registered: Mapping[str, Any]
) -> dict[str, str]:
    """The registered pipelines whose nodes all ran, in the order they finished, with the
    first paragraph of their package's docstring."""
    order = {name: index for index, name in enumerate(run_node_names)}
    parts = {
        name: max(order[node.name] for node in pipeline.nodes)
        for name, pipeline in registered.items()
        if name != "__default__"
        and pipeline.nodes
        and all(node.name in order for node in pipeline.nodes)
    }
    return {name: _purpose(name) for name in sorted(parts, key=parts.get)}


def _purpose(pipeline_name: str) -> str:
    try:
        doc = importlib.import_module(f"{PIPELINES_PACKAGE}.{pipeline_name}").__doc__
    except ModuleNotFoundError:
        doc = None
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else ""


def read_results(
    outputs: Collection[str], load: Callable[[str], Any], parameters: Mapping[str, Any]
) -> tuple[pd.DataFrame | None, list[tuple[str, str]]]:
    """The table and facts the run's own ``outputs`` (dataset names, read with ``load``)
    give: test metrics beside popularity, the kept epoch, a benchmark's or the
    augmentation study's results, a study's best trial, a retraining decision, the
    registered version."""
    table, facts = None, []
    if "evaluation_report" in outputs:
        table = evaluation_table(load("evaluation_report")["models"])
    if "training_summary" in outputs:
        summary = load("training_summary")
        facts.append(
            (
                "kept epoch",
                kept_epoch(summary["best_epoch"], summary["stopped_epoch"], parameters["training"]),
            )
        )
    for name in ("benchmark_report", "given_split_report"):
        if name in outputs:
            table = benchmark_table(load(name))
    if "augmentation_summary" in outputs:
        table = verdict_table(load("augmentation_summary"))
    for name in ("tuning.study_summary", "tuning_given_split.study_summary"):
        if name in outputs:
            facts.append(("study", study_fact(load(name))))
    if "retraining_decision" in outputs:
        decision = load("retraining_decision")
        facts.append(("decision", f"{decision['outcome']}: {decision['reason']}"))
    if "registered_model" in outputs:
        facts.append(("registered", registered_fact(load("registered_model"))))
    return table, facts


def evaluation_table(models: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The headline test metrics, one row per model."""
    table = pd.DataFrame.from_dict(models, orient="index")[list(HEADLINE_METRICS)]
    return table.rename(columns=HEADLINE_METRICS).rename_axis("model")


def kept_epoch(best_epoch: int, stopped_epoch: int, training: Mapping[str, Any]) -> str:
    """The kept epoch, and where training stopped when early stopping ended it."""
    planned = training["epochs"]
    if stopped_epoch == planned:
        return f"{best_epoch} of {planned}"
    return f"{best_epoch}; stopped early after epoch {stopped_epoch} of {planned}"


def benchmark_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Every model on the headline metric, best first."""
    metric = report["headline_metric"]
    heading = report["table_metrics"].get(metric, metric)
    scores = {name: summary[metric] for name, summary in report["models"].items()}
    table = pd.Series(scores, name=heading).sort_values(ascending=False)
    return table.rename_axis("model").to_frame()


def verdict_table(summary: pd.DataFrame) -> pd.DataFrame:
    """How many data set x regime x classifier cases each arm helped, hurt, or left
    equivalent or undecided against no augmentation."""
    arms = summary[summary["verdict"] != "baseline"]
    return pd.crosstab(arms["arm"], arms["verdict"])


def study_fact(summary: Mapping[str, Any]) -> str:
    """The study's best trial, or that no trial completed."""
    if "best_value" not in summary:
        return f"{summary['study_name']}: no completed trial in {summary['n_trials']}"
    return (
        f"{summary['study_name']}: best validation score {summary['best_value']:.4f} "
        f"(trial {summary['best_trial']} of {summary['n_trials']})"
    )


def registered_fact(registered: Mapping[str, Any]) -> str:
    aliases = ", ".join(registered["aliases"]) or "no alias"
    return f"{registered['model_name']} version {registered['version']} ({aliases})"


def mlflow_facts(tracking_uri: str, experiment_id: str, run_id: str) -> list[tuple[str, str]]:
    """Where the MLflow run is: its id, and the page to open, with the command that
    serves the UI when the store is local."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}"
    if tracking_uri.startswith(("http://", "https://")):
        server = _display_uri(tracking_uri).rstrip("/")
        return [("MLflow run", run_id), ("open", f"{server}/{page}")]
    return [
        ("MLflow run", run_id),
        ("open", f"{_tool('mlflow')} ui --backend-store-uri {_display_uri(tracking_uri)}"),
        ("then", f"{MLFLOW_UI_ADDRESS}/{page}"),
    ]


def served_model_uri(outputs: Collection[str], load: Callable[[str], Any]) -> str | None:
    """The model a run makes current, as ``mlflow models serve -m`` takes it: the version a
    training run registered (``models:/<name>/<version>``, whatever its aliases), or the
    champion a retraining round leaves (``models:/<name>@champion``; its decision says
    whether that is the model it trained). None for a run that registers nothing."""
    if "registered_model" in outputs:
        return load("registered_model")["model_uri"]
    if "retraining_decision" in outputs:
        return f"models:/{load('retraining_decision')['model_name']}@champion"
    return None


def serve_fact(tracking_uri: str, model_uri: str) -> tuple[str, str]:
    """The command that serves ``model_uri`` over HTTP."""
    tools = Path(_tool("mlflow")).parent
    path = f"$PWD/{tools}" if not tools.is_absolute() else str(tools)
    return (
        "serve",
        f'MLFLOW_TRACKING_URI={_display_uri(tracking_uri)} PATH="{path}:$PATH" '
        f"mlflow models serve -m {model_uri} --env-manager local --port 5001",
    )


def _tool(name: str) -> str:
    """This environment's ``name`` script, e.g. ".venv/bin/mlflow"."""
    return _relative(Path(sys.executable).parent / name)


def _display_uri(tracking_uri: str) -> str:
    """A SQLite store in the working directory as a relative URI, as mlflow.yml writes it;
    credentials in the URI masked."""
    return mask_text(tracking_uri.replace(f"sqlite:///{Path.cwd()}/", "sqlite:///", 1))


def catalog_filepaths(conf_catalog: Mapping[str, Any]) -> dict[str, str]:
    """Each catalog entry's file path; an MLflow artifact's is that of the dataset it wraps."""
    paths = {}
    for name, entry in conf_catalog.items():
        inner = entry.get("dataset") if isinstance(entry, Mapping) else None
        for candidate in (entry, inner):
            if isinstance(candidate, Mapping) and "filepath" in candidate:
                paths[name] = candidate["filepath"]
    return paths


def report_paths(outputs: Collection[str], filepaths: Mapping[str, str]) -> list[str]:
    """The markdown reports among ``outputs`` (dataset name: file path), relative to the
    working directory."""
    paths = [filepaths[name] for name in outputs if filepaths.get(name, "").endswith(".md")]
    return sorted(_relative(path) for path in paths)


def _relative(path: str | Path) -> str:
    """``path`` relative to the working directory where it lies inside it."""
    path = Path(path)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
