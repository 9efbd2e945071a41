"""Each model chosen on the validation users, refitted where the data say so, then scored
once on the test users by the same code for every model.

Autoencoder training and per-model tracking come in as callbacks, so this module
runs without MLflow.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import scipy.sparse as sp
import torch
from sklearn.model_selection import ParameterGrid

from vaeops.data.sparse import resolve_device
from vaeops.recommenders.benchmark.protocol import BenchmarkData
from vaeops.recommenders.benchmark.settings import BASELINES
from vaeops.recommenders.metrics import Evaluation, Scorer, evaluate, scipy_scorer
from vaeops.recommenders.settings import EvaluationParameters, TrainingParameters
from vaeops.recommenders.training import TrainingResult

logger = logging.getLogger(__name__)

# A validation split: the users' fold-in and target items.
Validation = tuple[sp.csr_matrix, sp.csr_matrix]
# (model name, its training block, training matrix, validation or None) -> the trained
# autoencoder, holding the weights of its best validation epoch (the last without).
AutoencoderTrainer = Callable[
    [str, TrainingParameters, sp.csr_matrix, Validation | None], TrainingResult
]
# A baseline's keyword arguments (a list is a grid of values), or an autoencoder's block.
ModelSettings = Mapping[str, Any] | TrainingParameters


class ModelLog(Protocol):
    """Where one model's settings, choices and scores are recorded (its MLflow run)."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float]) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...


# (model name, its settings) -> a context around the model's fit and scoring that
# yields its log.
ModelRun = Callable[[str, ModelSettings], AbstractContextManager[ModelLog]]


def candidate_settings(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a baseline's settings, where a list is a grid of values."""
    return list(
        ParameterGrid(
            {key: value if isinstance(value, list) else [value] for key, value in settings.items()}
        )
    )


def refit_settings(settings: TrainingParameters, chosen: TrainingResult) -> TrainingParameters:
    """The settings that rerun the run which kept ``chosen.best_epoch``, on all train items
    and up to that epoch: the same seed, nothing to stop on, and β reaching its cap at
    the same update as in that run, although the refit plans fewer epochs."""
    kept, config = chosen.best_epoch, chosen.config
    refit = {**settings.model_dump(exclude_unset=True), "epochs": kept, "patience": None}
    if config.total_anneal_steps is None:
        refit["anneal_share"] = config.anneal_share * config.epochs / kept
    return TrainingParameters.model_validate(refit)


@dataclass(frozen=True)
class _Fitted:
    scorer: Scorer
    seconds: float  # every fit: each candidate or the choosing run, and the refit
    choice: dict[str, Any]  # what validation chose, for the report


def fit_and_score(
    settings: Mapping[str, ModelSettings],
    data: BenchmarkData,
    evaluation: EvaluationParameters,
    headline_metric: str,
    validation_k: int,
    train_autoencoder: AutoencoderTrainer,
    model_run: ModelRun,
) -> dict[str, Any]:
    """Fit each model of ``settings`` (name: settings, in order), make its choices on the
    validation users, refit it where ``data`` says so, and only then score it on the test
    users with ``evaluation``.

    A baseline is fitted once per combination of its listed values, keeping the one
    with the best validation NDCG@``validation_k``; any other name is an autoencoder,
    trained by ``train_autoencoder``, which keeps its best validation epoch.
    """
    device = resolve_device(evaluation.device)
    models = {}
    for position, (name, model_settings) in enumerate(settings.items(), start=1):
        logger.info("benchmark model %d/%d: %s", position, len(settings), name)
        with model_run(name, model_settings) as log:
            if name in BASELINES:
                fitted = _fit_baseline(
                    BASELINES[name], model_settings, data, validation_k, evaluation, device
                )
            else:
                fitted = _fit_autoencoder(name, model_settings, data, train_autoencoder, device)
            with torch.no_grad():
                scored = evaluate(
                    fitted.scorer,
                    data.test_fold_in,
                    data.test_target,
                    ks=evaluation.ks,
                    batch_size=evaluation.batch_size,
                    device=device,
                )
            _log_outcome(log, fitted, scored)
        logger.info(
            "%s: test %s = %.4f after %.1f s of training",
            name,
            headline_metric,
            scored.summary()[headline_metric],
            fitted.seconds,
        )
        models[name] = {
            "evaluation": scored,
            "train_seconds": fitted.seconds,
            "choice": fitted.choice,
        }
    return {"protocol": data.protocol, "models": models}


def _fit_baseline(
    model_class: type,
    settings: Mapping[str, Any],
    data: BenchmarkData,
    validation_k: int,
    evaluation: EvaluationParameters,
    device: torch.device,
) -> _Fitted:
    started = time.perf_counter()
    candidates = candidate_settings(settings)
    final_train = data.train if data.refit_train is None else data.refit_train
    if len(candidates) == 1:  # nothing to choose
        model = model_class(**candidates[0]).fit(final_train)
        return _Fitted(scipy_scorer(model), time.perf_counter() - started, {})
    metric = f"ndcg_at_{validation_k}"
    grid, chosen, best_score = [], None, math.nan
    for position, candidate in enumerate(candidates, start=1):
        fit_started = time.perf_counter()
        model = model_class(**candidate).fit(data.train)
        with torch.no_grad():
            score = evaluate(
                scipy_scorer(model),
                data.validation_fold_in,
                data.validation_target,
                ks=(validation_k,),
                batch_size=evaluation.batch_size,
                device=device,
            ).summary()[metric]
        grid.append({**candidate, f"validation_{metric}": score})
        logger.info(
            "%s grid %d/%d %s: validation %s = %.4f after %.1f s",
            model_class.__name__,
            position,
            len(candidates),
            candidate,
            metric,
            score,
            time.perf_counter() - fit_started,
        )
        if chosen is None or score > best_score:
            best_score, chosen, kept = score, candidate, model
        del model  # holding one model besides the best bounds EASE's memory to two
    if data.refit_train is not None:
        del kept
        kept = model_class(**chosen).fit(data.refit_train)
    changed = {key: chosen[key] for key, value in settings.items() if isinstance(value, list)}
    choice = {
        "chosen": changed,
        "validation_metric": metric,
        "validation_score": best_score,
        "grid": grid,
    }
    return _Fitted(scipy_scorer(kept), time.perf_counter() - started, choice)


def _fit_autoencoder(
    name: str,
    settings: TrainingParameters,
    data: BenchmarkData,
    train_autoencoder: AutoencoderTrainer,
    device: torch.device,
) -> _Fitted:
    validation = (data.validation_fold_in, data.validation_target)
    trained = train_autoencoder(name, settings, data.train, validation)
    logger.info(
        "%s: kept epoch %d; stopped after epoch %d of %d",
        name,
        trained.best_epoch,
        trained.stopped_epoch,
        trained.config.epochs,
    )
    choice = {
        "kept_epoch": trained.best_epoch,
        "stopped_epoch": trained.stopped_epoch,
        "planned_epochs": trained.config.epochs,
        "precision": trained.precision,
        "validation_metric": f"ndcg_at_{trained.config.validation_k}",
        "validation_score": trained.best_validation_ndcg,
    }
    seconds = trained.seconds
    if data.refit_train is not None:
        trained = train_autoencoder(name, refit_settings(settings, trained), data.refit_train, None)
        seconds += trained.seconds
    return _Fitted(trained.model.to(device).score, seconds, choice)


def _log_outcome(log: ModelLog, fitted: _Fitted, scored: Evaluation) -> None:
    choice = fitted.choice
    metrics = {f"test/{metric}": value for metric, value in scored.summary().items()}
    metrics["train_seconds"] = fitted.seconds
    if "grid" in choice:  # a baseline's setting chosen from its grid
        log.log_params({f"chosen.{key}": value for key, value in choice["chosen"].items()})
        metrics[f"val/{choice['validation_metric']}"] = choice["validation_score"]
    if "kept_epoch" in choice:  # an autoencoder, whose validation curve is logged per epoch
        log.set_tags({"precision": choice["precision"]})
        metrics.update(kept_epoch=choice["kept_epoch"], stopped_epoch=choice["stopped_epoch"])
    log.log_metrics(metrics)
