"""The Optuna search of an augmentation arm's settings on the tuning partition.

Each arm is tuned once per data set and regime, inside the arm's MLflow run
(see ``augmentation_tracking``), and its best settings are used in every
evaluation split. The objective is ``vaeops.augmentation.protocol.validation_score``,
the same split protocol the evaluation runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from vaeops.adapters.optuna import search, storage, trials
from vaeops.adapters.optuna.summary import summarize
from vaeops.augmentation.arms import check_search_space
from vaeops.augmentation.datasets import SplitPlan, inner_splits
from vaeops.augmentation.protocol import Experiment, validation_score
from vaeops.jobs.augmentation_runs import arm_run, log_settings
from vaeops.schema import NamedStudyParameters

logger = logging.getLogger(__name__)


def choose_arm_settings(
    experiment: Experiment,
    plan: SplitPlan,
    arm: str,
    spec: Mapping[str, Any],
    tuning: Mapping[str, Any],
) -> dict[str, Any]:
    """The settings the arm runs with, tuned when its spec (``augmentation.arms.<arm>``)
    asks for trials, else as configured; with the arm's MLflow run id and its study's
    summary (None when untuned)."""
    name, regime = experiment.data.name, experiment.regime.name
    with arm_run(name, regime, arm) as run_id:
        settings, study = dict(spec["settings"]), None
        if spec["n_trials"] > 0 and spec["search_space"]:
            started = time.perf_counter()
            settings, summary = tune_arm(
                experiment, plan, arm, settings, spec["search_space"], spec["n_trials"], tuning
            )
            study = {key: summary[key] for key in ("n_trials", "best_trial", "best_value")}
            study["seconds"] = time.perf_counter() - started
            logger.info(
                "%s/%s/%s tuned in %.0f s: %s = %.4f with %s",
                name,
                regime,
                arm,
                study["seconds"],
                tuning["metric"],
                study["best_value"],
                summary["best_params"],
            )
        log_settings(settings)
    return {"settings": settings, "mlflow_run_id": run_id, "study": study}


def tune_arm(
    experiment: Experiment,
    plan: SplitPlan,
    arm: str,
    settings: Mapping[str, Any],
    search_space: Mapping[str, Any],
    n_trials: int,
    tuning: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Search the arm's settings on inner splits of the tuning partition; returns the
    best settings and the study summary. Each trial is a nested MLflow run of the active run.

    Trial 0 is the configured settings, so the search never ends worse than them
    on its own objective.
    """
    space = search.flatten_search_space(search_space)
    check_search_space(arm, space)
    validation = inner_splits(
        plan.tuning, experiment.data.y, plan.folds, tuning["inner_splits"], experiment.seed
    )
    name = f"augmentation-{experiment.data.name}-{experiment.regime.name}-{arm}"
    study = storage.open_study(
        NamedStudyParameters.model_validate({**tuning["study"], "name": name})
    )
    defaults = {key: settings[key] for key in space}
    if all(search.contains(space[key], value) for key, value in defaults.items()):
        study.enqueue_trial(
            defaults, user_attrs={"enqueued": "configured settings"}, skip_if_exists=True
        )

    def objective(trial) -> float:
        candidate = {**settings, **search.suggest(trial, space)}
        return validation_score(experiment, validation, arm, candidate, tuning["metric"])

    trials.run_trials(
        study,
        objective,
        n_trials=n_trials,
        value_name=tuning["metric"],
        catch=(FloatingPointError,),
    )
    summary = summarize(study)
    if "best_params" not in summary:
        raise RuntimeError(
            f"Study {name!r} has no completed trial ({summary['n_trials_by_state']}); "
            "see the per-trial log lines for why."
        )
    return {**settings, **summary["best_params"]}, summary
