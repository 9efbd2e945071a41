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
    pipelines = find_pipelines(raise_errors=True)
    # `kedro run --pipeline NAME` makes Kedro load only NAME; chain only when all are loaded.
    if "__default__" in pipelines:
        pipelines["__default__"] = sum((pipelines[name] for name in DEFAULT_CHAIN), Pipeline([]))
    return pipelines
