"""Optuna's experimental features that the studies rely on, without their warnings."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna


@contextmanager
def experimental_allowed() -> Iterator[None]:
    """Heartbeats, their retry callback and metric names are marked experimental in
    Optuna; they are what we want, so their warnings would only be noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
