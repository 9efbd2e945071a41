"""Optuna studies whose trials are nested MLflow runs, for any ``objective(trial) -> float``.

A study lives in an RDB storage (SQLite by default, PostgreSQL for several
machines), so running again with the same study name adds trials to it and
several workers can share it. Each trial runs inside a child MLflow run of the
active (parent) run: the child gets the trial's parameters, its final value and
its state (``COMPLETE``, ``PRUNED`` or ``FAIL`` with the reason), and the trial
keeps the child's run id as the user attribute ``mlflow_run_id``, so the
objective can log curves into it and optuna-dashboard links back to MLflow.

A running trial sends heartbeats to the storage. When its worker is killed, the
next worker to open the study or start a trial finds it stale: the trial is
failed and retried as a new trial with the same parameters, and its MLflow run
(and the dead worker's parent run) is ended as KILLED instead of staying RUNNING.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import sqlalchemy.exc  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from optuna.trial import FrozenTrial, Trial, TrialState  # noqa: E402

from vaeops.adapters.mlflow.tracking import start_child_run  # noqa: E402
from vaeops.errors import DataError  # noqa: E402
from vaeops.secrets import mask_text  # noqa: E402

logger = logging.getLogger(__name__)

Objective = Callable[[Trial], float]

MLFLOW_RUN_ID = "mlflow_run_id"
# The study user attribute describing the data its trials are scored on.
DATA_ATTR = "data"
FAIL_REASON = "fail_reason"
# Seconds a SQLite writer waits for another worker's lock before "database is locked".
SQLITE_LOCK_TIMEOUT_S = 120
# Workers that start together may race to create the schema of a new storage;
# the loser retries against the tables the winner created.
STORAGE_INIT_ATTEMPTS = 5
# Retries of a trial whose worker died: a trial that kills its worker twice (e.g. out of
# memory) is likely the cause, not the victim.
STALE_TRIAL_RETRIES = 2


@dataclass(frozen=True)
class StudySettings:
    """Where a study lives and how it samples and prunes, as in ``parameters_*.yml``.

    ``storage`` is an SQLAlchemy URL (``sqlite:///path.db``, ``postgresql://host/db``)
    or None for a throwaway in-memory study. ``sampler`` and ``pruner`` name classes
    of ``optuna.samplers`` / ``optuna.pruners`` with their keyword arguments. A running
    trial of a stored study records a heartbeat every ``heartbeat_interval`` seconds; one
    silent for ``grace_period`` seconds (None: twice the interval) is stale, its worker
    dead. ``heartbeat_interval`` None turns heartbeats off.
    """

    name: str
    storage: str | None
    direction: str = "maximize"
    sampler: Mapping[str, Any] = field(default_factory=lambda: {"name": "TPESampler", "seed": 0})
    pruner: Mapping[str, Any] = field(default_factory=lambda: {"name": "MedianPruner"})
    heartbeat_interval: int | None = 60
    grace_period: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> StudySettings:
        known = set(inspect.signature(cls).parameters)
        unknown = set(params) - known
        if unknown:
            raise ValueError(
                f"Unknown study settings {sorted(unknown)}; the study block takes {sorted(known)}."
            )
        return cls(**params)


def open_study(settings: StudySettings) -> optuna.Study:
    """Create the study, or load it (with its trials) when the storage already has it.

    The sampler's seed is drawn from ``(seed, trials already stored)``, so a
    resumed run proposes new points instead of replaying the first run's, and
    workers given different seeds never share a random stream. Trials left running by a
    killed worker are failed and retried first, so the study this returns is current.
    """
    storage = open_storage(settings.storage, settings.heartbeat_interval, settings.grace_period)
    n_existing = _count_trials(storage, settings.name) if storage is not None else 0
    study = optuna.create_study(
        storage=storage,
        study_name=settings.name,
        direction=settings.direction,
        sampler=build_sampler(settings.sampler, n_existing_trials=n_existing),
        pruner=build_pruner(settings.pruner),
        load_if_exists=True,
    )
    if n_existing:
        logger.info(
            "Resuming study %r: %d trials already in %s",
            settings.name,
            n_existing,
            mask_text(settings.storage),
        )
        with _experimental_allowed():
            optuna.storages.fail_stale_trials(study)
    return study


def open_storage(
    url: str | None, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> optuna.storages.RDBStorage | None:
    if url is None:
        return None
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT_S}
    heartbeat: dict[str, Any] = {}
    if heartbeat_interval is not None:
        heartbeat = {
            "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period,
            "heartbeat_stale_trial_callback": retry_stale_trial,
        }
    attempt = 1
    while True:
        try:
            with _experimental_allowed():
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            if attempt == STORAGE_INIT_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
            attempt += 1


def retry_stale_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Called by Optuna for each stale trial it has failed: end the dead worker's MLflow
    runs as KILLED, then queue the trial's parameters again (RetryHeartbeatStaleTrialCallback
    copies its user attributes, so an enqueued default stays marked as one)."""
    logger.warning(
        "Trial %d sent no heartbeat for too long (its worker was killed or hung): failed, "
        "and retried as a new trial unless it already was %d times.",
        trial.number,
        STALE_TRIAL_RETRIES,
    )
    _end_runs_of_stale_trial(trial)
    with _experimental_allowed():
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=STALE_TRIAL_RETRIES)(
            study, trial
        )


def _end_runs_of_stale_trial(trial: FrozenTrial) -> None:
    """The trial's child run and its worker's parent run both died with the worker."""
    run_id = trial.user_attrs.get(MLFLOW_RUN_ID)
    if run_id is None:
        return
    client = mlflow.MlflowClient()
    try:
        child = client.get_run(run_id)
        client.set_tag(run_id, "optuna.state", TrialState.FAIL.name)
        client.set_tag(run_id, "optuna.fail_reason", "its worker stopped (no heartbeat)")
        for dead in (run_id, child.data.tags.get("mlflow.parentRunId")):
            if dead is not None and client.get_run(dead).info.status == "RUNNING":
                client.set_terminated(dead, "KILLED")
    except MlflowException as error:  # e.g. the dead worker logged to another tracking store
        logger.warning("Could not end MLflow run %s of trial %d: %s", run_id, trial.number, error)


@contextmanager
def _experimental_allowed() -> Iterator[None]:
    """Heartbeats, their retry callback, metric names and the matplotlib plots are marked
    experimental in Optuna; they are what we want, so their warnings would only be noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _count_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


def build_sampler(
    spec: Mapping[str, Any], n_existing_trials: int = 0
) -> optuna.samplers.BaseSampler:
    sampler_class = _named_class(
        optuna.samplers, spec["name"], optuna.samplers.BaseSampler, "sampler"
    )
    kwargs = dict(spec.get("kwargs") or {})
    seed = spec.get("seed")
    if seed is not None:
        if "seed" not in inspect.signature(sampler_class).parameters:
            raise ValueError(f"{spec['name']} takes no seed; set the sampler's seed to null.")
        # Not seed + n: worker (seed 1, 1 trial stored) would then replay worker (seed 2, none).
        entropy = [int(seed), n_existing_trials]
        kwargs["seed"] = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return sampler_class(**kwargs)


def build_pruner(spec: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    pruner_class = _named_class(optuna.pruners, spec["name"], optuna.pruners.BasePruner, "pruner")
    return pruner_class(**dict(spec.get("kwargs") or {}))


def _named_class(module, name: str, base: type, what: str) -> type:
    candidate = getattr(module, name, None)
    if not (inspect.isclass(candidate) and issubclass(candidate, base)):
        choices = sorted(
            n
            for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, base) and c is not base
        )
        raise ValueError(f"Unknown Optuna {what} {name!r}; choose one of {choices}.")
    return candidate


def flatten_search_space(
    space: Mapping[str, Any], prefix: str = ""
) -> dict[str, Mapping[str, Any]]:
    """``{model: {latent_dim: {type: int, ...}}}`` -> ``{"model.latent_dim": {type: int, ...}}``.

    The nesting mirrors the parameters being tuned, so a range can be changed
    from the command line (``--params tuning.search_space.model.latent_dim.high=300``).
    A mapping with a ``type`` key is one parameter's distribution.
    """
    flat: dict[str, Mapping[str, Any]] = {}
    for key, value in space.items():
        name = f"{prefix}{key}"
        if not isinstance(value, Mapping):
            raise ValueError(
                f"Search-space entry {name!r} is {value!r}; give a distribution such as "
                "{type: float, low: 0.0, high: 1.0} or {type: categorical, choices: [...]}."
            )
        if "type" in value:
            flat[name] = value
        else:
            flat.update(flatten_search_space(value, prefix=f"{name}."))
    return flat


def suggest(trial: Trial, search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Draw one value per entry of a flat search space (see ``flatten_search_space``).

    Each entry is ``{type: float|int, low, high, log?, step?}`` or
    ``{type: categorical, choices: [...]}``; the entry's key is the parameter name.
    """
    values = {}
    for name, spec in search_space.items():
        kind = spec.get("type")
        options = {key: value for key, value in spec.items() if key != "type"}
        if kind == "float":
            values[name] = trial.suggest_float(name, **options)
        elif kind == "int":
            values[name] = trial.suggest_int(name, **options)
        elif kind == "categorical":
            values[name] = trial.suggest_categorical(name, **options)
        else:
            raise ValueError(
                f"Search-space entry {name!r} has type {kind!r}; use float, int or categorical."
            )
    return values


def contains(spec: Mapping[str, Any], value: Any) -> bool:
    """Whether a search-space entry can produce ``value`` (bounds and choices, not steps)."""
    if spec["type"] == "categorical":
        return value in spec["choices"]
    return isinstance(value, (int, float)) and spec["low"] <= value <= spec["high"]


def enqueue_if_in_space(
    study: optuna.Study,
    values: Mapping[str, Any],
    search_space: Mapping[str, Mapping[str, Any]],
    source: str,
) -> None:
    """Make ``values`` (e.g. the configuration in use) the study's next trial, unless a
    trial with them has been evaluated (complete or pruned) or is waiting or running.

    With it among the trials, the best trial is never worse than that configuration
    under the same budget. A trial with them that failed (its worker was interrupted,
    and any retry failed too) does not count, so the next run evaluates them again.
    Values the space cannot produce would make a trial outside the search, so they are
    left out, saying so; ``source`` names them in that log line and in the trial's
    ``enqueued`` user attribute.
    """
    outside = [name for name, value in values.items() if not contains(search_space[name], value)]
    if outside:
        logger.info(
            "The %s %s lie outside the search space; not enqueued as a trial.",
            source,
            {name: values[name] for name in outside},
        )
        return
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)
    for trial in study.get_trials(deepcopy=False, states=counted):
        # A waiting enqueued trial keeps its values in Optuna's "fixed_params" until it runs.
        if trial.system_attrs.get("fixed_params", trial.params) == dict(values):
            return
    study.enqueue_trial(dict(values), user_attrs={"enqueued": source})


def check_study_data(study: optuna.Study, signature: Mapping[str, Any]) -> None:
    """Record the data a new study is scored on, and refuse to add trials on other data to
    an existing one: their values would not be comparable."""
    recorded = study.user_attrs.get(DATA_ATTR)
    if recorded is None:
        study.set_user_attr(DATA_ATTR, dict(signature))
    elif recorded != dict(signature):
        raise DataError(
            f"Study {study.study_name!r} was scored on other data ({recorded}) than this run "
            f"reads ({dict(signature)}). Give the tuning run the same dataset parameters as "
            "the preprocessing run that made the split, or another tuning.study.name."
        )


def check_contour_params(contour_params: list[str], search_space: Mapping[str, Any]) -> None:
    """Fail before any trial when the contour plot would name a parameter not searched."""
    if not set(contour_params) <= set(search_space):
        raise ValueError(
            f"tuning.contour_params {contour_params} must name two entries of "
            f"tuning.search_space: {sorted(search_space)}."
        )


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
    with _experimental_allowed():
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


def study_figures(
    study: optuna.Study, contour_params: list[str], target_name: str
) -> dict[str, plt.Figure]:
    """Optimisation history, parameter importances and the contour of two parameters.

    A plot the study cannot fill yet (e.g. importances from one finished trial)
    comes back empty, with Optuna's warning in the log saying why.
    """
    from optuna.visualization import matplotlib as optuna_plots

    with _experimental_allowed():
        axes = {
            "optimization_history": optuna_plots.plot_optimization_history(
                study, target_name=target_name
            ),
            "param_importances": optuna_plots.plot_param_importances(
                study, target_name=target_name
            ),
            "contour": optuna_plots.plot_contour(
                study, params=contour_params, target_name=target_name
            ),
        }
    figures = {}
    for name, drawn in axes.items():
        figure = (drawn.flat[0] if isinstance(drawn, np.ndarray) else drawn).figure
        width, height = figure.get_size_inches()
        figure.set_size_inches(max(width, 8), max(height, 5))
        figures[name] = figure
    return figures
