"""Where a study lives: an RDB storage (SQLite by default, PostgreSQL for several
machines), so running again with the same study name adds trials to it and several
workers can share it.

A running trial sends heartbeats to the storage. When its worker is killed, the
next worker to open the study or start a trial finds it stale: the trial is
failed and retried as a new trial with the same parameters, and its MLflow run
(and the dead worker's parent run) is ended as KILLED instead of staying RUNNING.
"""

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import optuna
import sqlalchemy.exc
from mlflow.exceptions import MlflowException
from optuna.trial import FrozenTrial, TrialState

from vaeops.adapters.optuna.experimental import experimental_allowed
from vaeops.adapters.optuna.search import build_pruner, build_sampler
from vaeops.adapters.optuna.trials import MLFLOW_RUN_ID
from vaeops.errors import DataError
from vaeops.schema import NamedStudyParameters
from vaeops.secrets import mask_text

logger = logging.getLogger(__name__)

# The study user attribute describing the data its trials are scored on.
DATA_ATTR = "data"
# Seconds a SQLite writer waits for another worker's lock before "database is locked".
SQLITE_LOCK_TIMEOUT_S = 120
# Workers that start together may race to create the schema of a new storage;
# the loser retries against the tables the winner created.
STORAGE_INIT_ATTEMPTS = 5
# Retries of a trial whose worker died: a trial that kills its worker twice (e.g. out of
# memory) is likely the cause, not the victim.
STALE_TRIAL_RETRIES = 2


def open_study(settings: NamedStudyParameters) -> optuna.Study:
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
        with experimental_allowed():
            optuna.storages.fail_stale_trials(study)
    return study


def open_storage(
    url: str | None, heartbeat_interval: int | None, grace_period: int | None
) -> optuna.storages.RDBStorage | None:
    """The RDB storage at ``url`` (None: no storage, an in-memory study). Heartbeats as
    NamedStudyParameters says: ``heartbeat_interval`` None sends none, and
    ``grace_period`` None is Optuna's, twice the interval."""
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
            with experimental_allowed():
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
    with experimental_allowed():
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


def _count_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


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
