"""One nested MLflow run per benchmarked model, under the kedro-mlflow run.

A benchmark trains several models in one ``kedro run``; giving each its own
child run keeps their parameters, epoch curves and test metrics apart in the
UI while the parent run holds the comparison table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow

from vaeops.integrations.tracking import start_child_run


@contextmanager
def model_run(model: str, params: Mapping[str, Any]) -> Iterator[None]:
    """Make a child run of the active run current while ``model`` trains and is scored.

    Without an active run (tracking disabled) the model still runs, untracked.
    """
    if mlflow.active_run() is None:
        yield
        return
    with start_child_run(model):
        mlflow.set_tag("benchmark.model", model)
        mlflow.log_params(flatten(params))
        yield


def log_model_metrics(metrics: Mapping[str, float]) -> None:
    """Log to the current model run; untracked runs have nowhere to log."""
    if mlflow.active_run() is not None:
        mlflow.log_metrics(dict(metrics))


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys (``model.hidden_dims``), as kedro-mlflow logs them."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
