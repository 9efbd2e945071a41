"""A training configuration as its ``training`` parameters block (parameters_training.yml):
changed by dotted names the way a tuning trial changes it, and two
such configurations compared on the test users.

A tuning trial trains the whole block with its values set, for the block's own epochs
and early stopping; best_params.yml keeps only the searched values, which an
environment applies to the block it runs with.

A dotted name (``anneal_cap``, ``model.latent_dim``) is how a search space and Optuna
name a setting. ``model.hidden_dims`` is a list, one width per layer; a single int
given for it becomes the width of every hidden layer, so one number tunes the depth's
shared width without changing the depth.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import scipy.sparse as sp
import torch

from vaeops.config import OVERRIDES, merged
from vaeops.data.settings import DatasetParameters, GivenSplitDatasetParameters
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import MODEL_CLASSES, MultVAE
from vaeops.recommenders.settings import TrainingParameters
from vaeops.recommenders.training import EpochCallback, train_autoencoder

# The trial user attribute holding the ``training`` block the trial trained.
TRAINED_BLOCK = "training"
# Settings of β's annealing, which only a Mult-VAE has.
ANNEALING_SETTINGS = ("anneal_cap", "anneal_share", "total_anneal_steps")


def with_values(training: Mapping[str, Any], values: Mapping[str, Any]) -> dict:
    """A copy of the ``training`` block with each dotted name set to its value."""
    settings = copy.deepcopy(dict(training))
    for name, value in values.items():
        block, leaf = _locate(settings, name)
        block[leaf] = [value] * len(block[leaf]) if isinstance(block[leaf], list) else value
    return settings


def best_parameters_file(best_trial_attrs: Mapping[str, Any], names: Iterable[str]) -> dict:
    """The content of best_params.yml: the searched settings (dotted ``names``) as the best
    trial trained them, in an ``overrides`` block. A Kedro environment holding it changes
    only those keys of the ``training`` block it runs with (the loader applies an
    ``overrides`` block key by key), so a small study's ``--params training.epochs=15``
    does not become the tuned configuration's epochs."""
    if TRAINED_BLOCK not in best_trial_attrs:
        raise ValueError(
            "The study's best trial records no training block: it predates trials that "
            "train the shipped configuration. Start a new study (tuning.study.name)."
        )
    trained = best_trial_attrs[TRAINED_BLOCK]
    searched: dict[str, Any] = {}
    for name in names:
        block, leaf = _locate(trained, name)
        *parents, _ = name.split(".")
        target = searched
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = block[leaf]
    return {OVERRIDES: {"training": searched}}


def tuned_block(training: Mapping[str, Any], best_parameters: Mapping[str, Any]) -> dict:
    """The ``training`` block with best_params.yml's searched settings applied: what an
    environment holding that file trains."""
    return merged(training, best_parameters[OVERRIDES]["training"])


def check_searched_settings_apply(
    training: TrainingParameters, names: Iterable[str], search_space: str
) -> None:
    """Raise ValueError when a search (the block at ``search_space``) varies a setting
    the trained model ignores, which would spend the study's trials on noise: β's
    annealing outside a Mult-VAE (RecVAE weighs its KL term by ``model.gamma``), or
    ``anneal_share`` while ``total_anneal_steps`` sets the schedule."""
    kind = training.model.kind
    names = set(names)
    if not issubclass(MODEL_CLASSES[kind], MultVAE):
        ignored = sorted(names & set(ANNEALING_SETTINGS))
        fix = f"a {kind} has no annealed KL weight (docs/tuning.md has a RecVAE search space)"
    else:
        absolute = training.total_anneal_steps is not None or "total_anneal_steps" in names
        ignored = ["anneal_share"] if absolute and "anneal_share" in names else []
        fix = (
            "total_anneal_steps sets the schedule instead; leave anneal_share out, or set "
            "training.total_anneal_steps to null and leave it out"
        )
    if ignored:
        raise ValueError(
            f"{search_space} varies {ignored}, settings that change nothing here: {fix}."
        )


def study_name(name: str, dataset: DatasetParameters | GivenSplitDatasetParameters) -> str:
    """``<name>-<dataset>``: the same settings score differently on other data, so each
    dataset keeps its own study. A ``custom`` file or ``lightgcn`` folder is named by its
    stem."""
    label = Path(dataset.path).stem if dataset.name in ("custom", "lightgcn") else dataset.name
    return f"{name}-{label}"


def data_signature(
    train: sp.csr_matrix, validation_fold_in: sp.csr_matrix, validation_target: sp.csr_matrix
) -> dict[str, int]:
    """Sizes that tell one split from another, so that a study can refuse trials scored on
    other data than its own (a tuning run given other ``dataset`` parameters than the
    preprocessing run that made the split)."""
    return {
        "train_users": train.shape[0],
        "items": train.shape[1],
        "train_interactions": int(train.nnz),
        "validation_users": validation_fold_in.shape[0],
        "validation_interactions": int(validation_fold_in.nnz + validation_target.nnz),
    }


def current_values(training: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The ``training`` value of each dotted name; for a list (``model.hidden_dims``) the
    width all its layers share, or None when they differ."""
    values = {}
    for name in names:
        block, leaf = _locate(training, name)
        value = block[leaf]
        values[name] = (
            (value[0] if len(set(value)) == 1 else None) if isinstance(value, list) else value
        )
    return values


def _locate(settings: Mapping[str, Any], name: str) -> tuple[dict, str]:
    *parents, leaf = name.split(".")
    block: Any = settings
    for part in parents:
        block = block.get(part) if isinstance(block, Mapping) else None
    if not isinstance(block, Mapping) or leaf not in block:
        raise ValueError(
            f"Search-space entry {name!r} names no training parameter; use a key of the "
            "`training` block, e.g. anneal_cap or model.latent_dim."
        )
    if block[leaf] == []:
        raise ValueError(
            f"{name} is empty (no hidden layer), so there is no width to tune; remove it "
            "from tuning.search_space or give training.model.hidden_dims a layer."
        )
    return block, leaf


def compare_on_test(
    configurations: Mapping[str, TrainingParameters],
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    ks: Iterable[int],
    batch_size: int,
    device: torch.device | str,
    progress: Callable[[int, str], EpochCallback],
) -> dict[str, dict[str, float]]:
    """Train each named ``training`` block alike and score its best-validation checkpoint
    once on the test users: ``{name: {"val/ndcg_at_<k>": ..., "test/<metric>": ...}}``.

    ``progress(epochs, label)`` makes each training's epoch callback (e.g. a progress bar).
    """
    scores: dict[str, dict[str, float]] = {}
    for name, training in configurations.items():
        result = train_autoencoder(
            training,
            train,
            validation_fold_in,
            validation_target,
            callbacks=(progress(training.epochs, f"retrain {name}"),),
        )
        model = result.model.to(device).eval()
        with torch.no_grad():
            test = evaluate(
                model.score, test_fold_in, test_target, ks=ks, batch_size=batch_size, device=device
            )
        scores[name] = {
            f"val/ndcg_at_{training.validation_k}": result.best_validation_ndcg,
            **{f"test/{metric}": value for metric, value in test.summary().items()},
        }
    return scores


def comparison_metrics(scores: Mapping[str, Mapping[str, float]]) -> dict[str, dict]:
    """``compare_on_test``'s scores as ``<name>/<metric>`` in kedro-mlflow's metric form."""
    return {
        f"{name}/{metric}": {"value": value, "step": 0}
        for name, values in scores.items()
        for metric, value in values.items()
    }
