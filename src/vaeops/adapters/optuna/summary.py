"""A study's outcome: counts per state and the best trial, logged to the parent run."""

import logging
from collections.abc import Mapping
from typing import Any

import mlflow
import optuna
from optuna.trial import FrozenTrial, TrialState

from vaeops.adapters.optuna.trials import MLFLOW_RUN_ID

logger = logging.getLogger(__name__)


def summarize(study: optuna.Study) -> dict[str, Any]:
    """Counts per state and the best trial, as JSON-ready values."""
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.trials:
        counts[trial.state.name.lower()] += 1
    summary: dict[str, Any] = {
        "study_name": study.study_name,
        "direction": study.direction.name.lower(),
        "n_trials": len(study.trials),
        "n_trials_by_state": counts,
    }
    completed = [trial for trial in study.trials if trial.state == TrialState.COMPLETE]
    if completed:
        best = study.best_trial
        summary.update(
            best_trial=best.number,
            best_value=best.value,
            best_params=best.params,
            best_mlflow_run_id=best.user_attrs.get(MLFLOW_RUN_ID),
            best_user_attrs=best.user_attrs,
        )
    return summary


def summarize_run(study: optuna.Study, ran: list[FrozenTrial], seconds: float) -> dict[str, Any]:
    """``summarize`` of the whole study, with ``this_run``: the trials one run added
    (``run_trials``' answer), their counts per state and the run's seconds."""
    return {
        **summarize(study),
        "this_run": {
            "trials": [trial.number for trial in ran],
            "n_trials_by_state": {
                state: sum(trial.state.name.lower() == state for trial in ran)
                for state in ("complete", "pruned", "fail")
            },
            "seconds": seconds,
        },
    }


def log_best_to_active_run(
    summary: Mapping[str, Any], value_name: str
) -> dict[str, dict[str, float]]:
    """Log the best trial (a log line, and ``best.<name>`` params of the active parent run);
    return the study's metrics in kedro-mlflow's ``{key: {value, step}}`` form."""
    if "best_params" not in summary:
        raise RuntimeError(
            f"Study {summary['study_name']!r} has no completed trial "
            f"({summary['n_trials_by_state']}); see the per-trial log lines for why."
        )
    logger.info(
        "Study %r: %s; best %s = %.4f (trial %d)",
        summary["study_name"],
        summary["n_trials_by_state"],
        value_name,
        summary["best_value"],
        summary["best_trial"],
    )
    if mlflow.active_run() is not None:
        mlflow.log_params({f"best.{name}": value for name, value in summary["best_params"].items()})
        mlflow.set_tag("optuna.best_trial", str(summary["best_trial"]))
    metrics = {f"best/{value_name}": summary["best_value"], "study/n_trials": summary["n_trials"]}
    metrics.update(
        {
            f"study/n_{state}": summary["n_trials_by_state"][state]
            for state in ("complete", "pruned", "fail")
        }
    )
    return {key: {"value": float(value), "step": 0} for key, value in metrics.items()}
