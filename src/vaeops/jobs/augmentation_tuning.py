"""The Optuna search of an augmentation arm's settings on the tuning partition.

Each arm is tuned once per data set and regime, inside the arm's MLflow run
(see ``augmentation_tracking``), and its best settings are used in every
evaluation split. The objective is ``vaeops.augmentation.protocol.validation_score``,
the same split protocol the evaluation runs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from vaeops.adapters.optuna import search, storage, trials
from vaeops.adapters.optuna.summary import summarize
from vaeops.augmentation.datasets import SplitPlan, inner_splits
from vaeops.augmentation.protocol import Experiment, validation_score
from vaeops.augmentation.settings import AugmentationTuningParameters
from vaeops.jobs.augmentation_runs import arm_run, log_settings
from vaeops.schema import Block, NamedStudyParameters

logger = logging.getLogger(__name__)


def choose_arm_settings(
    experiment: Experiment,
    plan: SplitPlan,
    arm: str,
    spec: Block,
    tuning: AugmentationTuningParameters,
) -> dict[str, Any]:
    """The settings the arm runs with, tuned when its spec (``augmentation.arms.<arm>``)
    asks for trials, else as configured; with the arm's MLflow run id and its study's
    summary (None when untuned). The settings are a plain mapping, as the JSON data set
    keeps them."""
    name, regime = experiment.data.name, experiment.regime.name
    search_space = spec.search_space.model_dump(exclude_unset=True)
    with arm_run(name, regime, arm) as run_id:
        settings, study = spec.settings, None
        if spec.n_trials > 0 and search_space:
            started = time.perf_counter()
            settings, summary = tune_arm(
                experiment, plan, arm, settings, search_space, spec.n_trials, tuning
            )
            study = {key: summary[key] for key in ("n_trials", "best_trial", "best_value")}
            study["seconds"] = time.perf_counter() - started
            logger.info(
                "%s/%s/%s tuned in %.0f s: %s = %.4f with %s",
                name,
                regime,
                arm,
                study["seconds"],
                tuning.metric,
                study["best_value"],
                summary["best_params"],
            )
        log_settings(settings.model_dump())
    return {"settings": settings.model_dump(), "mlflow_run_id": run_id, "study": study}


def tune_arm(
    experiment: Experiment,
    plan: SplitPlan,
    arm: str,
    settings: Block,
    search_space: dict[str, Any],
    n_trials: int,
    tuning: AugmentationTuningParameters,
) -> tuple[Block, dict[str, Any]]:
    """Search the arm's settings on inner splits of the tuning partition; returns the
    best settings and the study summary. Each trial is a nested MLflow run of the active run.

    Trial 0 is the configured settings, so the search never ends worse than them
    on its own objective.
    """
    space = search.flatten_search_space(search_space)
    validation = inner_splits(
        plan.tuning, experiment.data.y, plan.folds, tuning.inner_splits, experiment.seed
    )
    name = f"augmentation-{experiment.data.name}-{experiment.regime.name}-{arm}"
    params = {**tuning.study.model_dump(exclude_unset=True), "name": name}
    study = storage.open_study(NamedStudyParameters.model_validate(params))
    defaults = {key: getattr(settings, key) for key in space}
    if all(search.contains(space[key], value) for key, value in defaults.items()):
        study.enqueue_trial(
            defaults, user_attrs={"enqueued": "configured settings"}, skip_if_exists=True
        )

    def objective(trial) -> float:
        candidate = _with(settings, search.suggest(trial, space))
        return validation_score(experiment, validation, arm, candidate, tuning.metric)

    trials.run_trials(
        study,
        objective,
        n_trials=n_trials,
        value_name=tuning.metric,
        catch=(FloatingPointError,),
    )
    summary = summarize(study)
    if "best_params" not in summary:
        raise RuntimeError(
            f"Study {name!r} has no completed trial ({summary['n_trials_by_state']}); "
            "see the per-trial log lines for why."
        )
    return _with(settings, summary["best_params"]), summary


def _with(settings: Block, changes: dict[str, Any]) -> Block:
    """``settings`` with some values replaced, checked by the same model."""
    return type(settings).model_validate({**settings.model_dump(), **changes})
