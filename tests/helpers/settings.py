"""Settings blocks for tests, read from conf/base so that no default is written twice:
a test names only what it changes."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from vaeops.adapters.kedro.config_loader import project_parameters
from vaeops.recommenders.benchmark import BenchmarkParameters
from vaeops.recommenders.settings import EvaluationParameters, ModelParameters, TrainingParameters

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


@cache
def _resolved() -> dict:
    return project_parameters(CONF.parent, env="base")


def shipped() -> dict:
    """A fresh copy of conf/base's parameters as `kedro run --env base` resolves them:
    the one place tests read their defaults from."""
    return copy.deepcopy(_resolved())


def model_block(kind: str = "multvae", **overrides: Any) -> dict:
    """The ``training.model`` block of parameters_training.yml; a RecVAE's is the
    benchmark's ``autoencoders.recvae.model``."""
    if kind == "recvae":
        block = shipped()["benchmark"]["autoencoders"]["recvae"]["model"]
    else:
        block = {**shipped()["training"]["model"], "kind": kind}
    return {**block, **overrides}


def model_settings(kind: str = "multvae", **overrides: Any) -> ModelParameters:
    return ModelParameters.model_validate(model_block(kind, **overrides))


def training_block(model: dict | None = None, **overrides: Any) -> dict:
    """The ``training`` block of parameters_training.yml with ``overrides``; ``model``
    holds overrides of ``model_block`` (its ``kind`` included)."""
    block = {**shipped()["training"], **overrides}
    block["model"] = model_block(**(model or {}))
    return block


def training_settings(model: dict | None = None, **overrides: Any) -> TrainingParameters:
    return TrainingParameters.model_validate(training_block(model, **overrides))


def evaluation_block(**overrides: Any) -> dict:
    """The ``evaluation`` block of parameters_evaluation.yml (ks, batch_size, device)."""
    return {**shipped()["evaluation"], **overrides}


def evaluation_settings(**overrides: Any) -> EvaluationParameters:
    return EvaluationParameters.model_validate(evaluation_block(**overrides))


def benchmark_settings(**overrides: Any) -> BenchmarkParameters:
    """params:benchmark of parameters_benchmark.yml, as resolved, with ``overrides``."""
    return BenchmarkParameters.model_validate({**shipped()["benchmark"], **overrides})


def serving_block(**overrides: Any) -> dict:
    """The ``registry.serving`` limits of parameters_registry.yml with ``overrides``."""
    return {**shipped()["registry"]["serving"], **overrides}


def baseline_block(name: str, **overrides: Any) -> dict:
    """The keyword arguments ``benchmark.baselines.<name>`` of parameters_benchmark.yml
    gives a baseline class, with ``overrides``; a grid (a list) needs one overridden."""
    return {**shipped()["benchmark"]["baselines"][name], **overrides}


def bootstrap_settings(**overrides: Any) -> dict:
    """``compare_paired``'s rope, n_samples and seed as params:benchmark sets them."""
    benchmark = shipped()["benchmark"]
    settings = {
        "rope": benchmark["rope"],
        "n_samples": benchmark["bootstrap_samples"],
        "seed": benchmark["bootstrap_seed"],
    }
    return {**settings, **overrides}
