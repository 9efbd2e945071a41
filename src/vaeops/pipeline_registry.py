"""Project pipelines."""

from __future__ import annotations

import re
from importlib.resources import files

import click
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

DEFAULT_CHAIN = (
    "ingestion",
    "preprocessing",
    "training",
    "evaluation",
    "reporting",
    "registration",
)


def register_pipelines() -> dict[str, Pipeline]:
    # Each node carries its pipeline's name as a tag, so kedro-viz can filter by
    # pipeline inside the default chain and `kedro run --tags training` works.
    pipelines = {
        name: pipeline if name == "__default__" else Pipeline(pipeline, tags=name)
        for name, pipeline in _find_pipelines().items()
    }
    # `kedro run --pipelines NAME` makes Kedro load only NAME; chain only when all are loaded.
    if "__default__" in pipelines:
        pipelines["__default__"] = sum((pipelines[name] for name in DEFAULT_CHAIN), Pipeline([]))
    return pipelines


class UnknownPipeline(click.ClickException):
    """As a ClickException, `kedro run` prints the message alone and exits with status 1."""


def _find_pipelines() -> dict[str, Pipeline]:
    """Kedro's discovery, where a misspelt ``--pipelines`` name surfaces as an
    ImportError of a module that does not exist; say which names do."""
    try:
        return find_pipelines(raise_errors=True)
    except ImportError as error:
        named = re.search(rf"'{__package__}\.pipelines\.([^'.]+)' module", str(error))
        known = pipeline_names()
        if named is None or named.group(1) in known:  # a pipeline that fails to import
            raise
        raise UnknownPipeline(
            f"there is no pipeline {named.group(1)!r}. The pipelines are: {', '.join(known)} "
            "(and __default__, which `kedro run` alone runs)."
        ) from None


def pipeline_names() -> list[str]:
    """The project's pipelines: the packages under ``pipelines/``."""
    folder = files(f"{__package__}.pipelines")
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and entry.joinpath("pipeline.py").is_file()
    )
