"""Trials run as nested MLflow runs, for any ``objective(trial) -> float``.

Each trial runs inside a child MLflow run of the active (parent) run: the child gets
the trial's parameters, its final value and its state (``COMPLETE``, ``PRUNED`` or
``FAIL`` with the reason), and the trial keeps the child's run id as the user attribute
``mlflow_run_id``, so the objective can log curves into it and optuna-dashboard links
back to MLflow.
"""

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import mlflow
import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from vaeops.adapters.mlflow.tracking import start_child_run
from vaeops.adapters.optuna.experimental import experimental_allowed

logger = logging.getLogger(__name__)

Objective = Callable[[Trial], float]

MLFLOW_RUN_ID = "mlflow_run_id"
FAIL_REASON = "fail_reason"


class PruneOnEpochMetric:
    """Trainer callback: reports ``record[metric]`` at step ``record['epoch']`` and
    raises ``optuna.TrialPruned`` when the study's pruner says the trial is behind."""

    def __init__(self, trial: Trial, metric: str):
        self._trial = trial
        self._metric = metric

    def __call__(self, record: Mapping[str, float]) -> None:
        epoch = int(record["epoch"])
        self._trial.report(float(record[self._metric]), step=epoch)
        if self._trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at epoch {epoch}: {self._metric} = {record[self._metric]:.4f}"
            )


def run_trials(
    study: optuna.Study,
    objective: Objective,
    n_trials: int | None,
    timeout_seconds: float | None = None,
    value_name: str = "objective",
    catch: tuple[type[Exception], ...] = (),
    logged_params: Callable[[dict[str, Any]], Mapping[str, Any]] = dict,
) -> list[FrozenTrial]:
    """Add up to ``n_trials`` trials to the study, each in a nested MLflow run.

    The study's objective is named ``value_name`` (optuna-dashboard shows it), and a
    completed trial's child run gets its value as the metric ``trial/<value_name>``.
    The child run's parameters are ``logged_params(trial.params)``: by default the
    trial's values, or e.g. the whole configuration they make, named as other runs name it.
    Exceptions in ``catch`` fail their trial, with the reason recorded, and the
    study goes on; a NaN or infinite value fails the trial likewise. Any other
    exception stops the study. Returns the trials this call ran (other workers
    on the same storage add theirs beside them).
    """
    with experimental_allowed():
        study.set_metric_names([value_name])
    ran: list[int] = []
    previous_verbosity = optuna.logging.get_verbosity()
    # Optuna's own INFO line would repeat the one log_trial writes.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study.optimize(
            _in_child_run(objective, study.study_name, value_name, ran, logged_params),
            n_trials=n_trials,
            timeout=timeout_seconds,
            catch=catch,
            callbacks=[log_trial],
        )
    finally:
        optuna.logging.set_verbosity(previous_verbosity)
    ran_here = set(ran)
    return [trial for trial in study.trials if trial.number in ran_here]


def _in_child_run(
    objective: Objective,
    study_name: str,
    value_name: str,
    ran: list[int],
    logged_params: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> Objective:
    def run_in_child(trial: Trial) -> float:
        ran.append(trial.number)
        tags = {"optuna.study": study_name, "optuna.trial_number": str(trial.number)}
        # A retry of a stale trial starts with that trial's user attributes, its run among them.
        if MLFLOW_RUN_ID in trial.user_attrs:
            tags["optuna.retry_of_run"] = trial.user_attrs[MLFLOW_RUN_ID]
        run = start_child_run(f"trial-{trial.number}")
        trial.set_user_attr(MLFLOW_RUN_ID, run.info.run_id)
        status = "FAILED"
        started = time.perf_counter()
        try:
            value = objective(trial)
            if math.isfinite(value):
                tags["optuna.state"] = TrialState.COMPLETE.name
                status = "FINISHED"
                mlflow.log_metric(f"trial/{value_name}", value)
            else:
                _record_failure(trial, tags, f"the objective returned {value}")
            return value
        except optuna.TrialPruned as pruned:
            tags["optuna.state"] = TrialState.PRUNED.name
            tags["optuna.prune_reason"] = str(pruned)
            status = "KILLED"
            raise
        except BaseException as error:
            _record_failure(trial, tags, f"{type(error).__name__}: {error}")
            if isinstance(error, KeyboardInterrupt):
                status = "KILLED"
            raise
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - started)
            if trial.params:
                mlflow.log_params(logged_params(trial.params))
            mlflow.set_tags(tags)
            mlflow.end_run(status)

    return run_in_child


def _record_failure(trial: Trial, tags: dict[str, str], reason: str) -> None:
    tags["optuna.state"] = TrialState.FAIL.name
    tags["optuna.fail_reason"] = reason[:5000]
    trial.set_user_attr(FAIL_REASON, reason)


def log_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """The per-trial progress line: number, outcome, best so far, time, parameters."""
    if trial.state == TrialState.COMPLETE:
        outcome = f"complete: value {trial.value:.4f}"
    elif trial.state == TrialState.PRUNED:
        outcome = f"pruned after {len(trial.intermediate_values)} reports"
    else:
        outcome = f"failed ({trial.user_attrs.get(FAIL_REASON, 'see the warning above')})"
    try:
        best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
    except ValueError:
        best = "no completed trial yet"
    params = ", ".join(f"{name}={_short(value)}" for name, value in trial.params.items())
    seconds = trial.user_attrs.get("seconds", float("nan"))
    logger.info("trial %d %s | %s | %.1f s | %s", trial.number, outcome, best, seconds, params)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
