"""Project pipelines."""

from __future__ import annotations

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
        for name, pipeline in find_pipelines(raise_errors=True).items()
    }
    # `kedro run --pipelines NAME` makes Kedro load only NAME; chain only when all are loaded.
    if "__default__" in pipelines:
        pipelines["__default__"] = sum((pipelines[name] for name in DEFAULT_CHAIN), Pipeline([]))
    return pipelines
