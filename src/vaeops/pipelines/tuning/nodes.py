"""The tuning pipeline's nodes: the study of the ``training`` block and the comparison on
the test users that follows it. Both are use cases of ``jobs.tuning`` (they open Optuna
studies and MLflow runs, which pipelines leave to jobs), typed by the settings schema:
``tuning`` arrives as ``TuningParameters``, checked before the run."""

import functools
import inspect
import typing
from collections.abc import Callable

from pydantic import BaseModel

from vaeops.jobs.tuning import compare_on_test, tune_hyperparameters

__all__ = ["compare_on_test", "on_data_source", "tune_hyperparameters"]


def on_data_source(job: Callable[..., dict], source: type[BaseModel]) -> Callable[..., dict]:
    """``job`` as a node whose ``dataset`` parameter is typed ``source``. Kedro validates
    a node's parameters into the model its signature names, but passes a union such as
    the job's unchecked; the template runs on a Liang-split dataset or a given split's."""

    @functools.wraps(job)
    def node_function(*args, **kwargs) -> dict:
        return job(*args, **kwargs)

    signature = inspect.signature(job)
    node_function.__signature__ = signature.replace(
        parameters=[
            parameter.replace(annotation=source) if name == "dataset" else parameter
            for name, parameter in signature.parameters.items()
        ]
    )
    node_function.__annotations__ = {**typing.get_type_hints(job), "dataset": source}
    return node_function
