"""MLflow run statuses that tell the truth when `kedro run` is stopped from outside.

kedro-mlflow ends its run FINISHED after the pipeline and FAILED on an exception, but
a signal escapes both: SIGTERM (systemd, Airflow, `kill`) ends the process with the
run left RUNNING forever, and Ctrl-C's KeyboardInterrupt bypasses Kedro's
``on_pipeline_error``, so MLflow's own exit handler ends the aborted run FINISHED.
Here a stopping signal becomes a KeyboardInterrupt, which unwinds the pipeline (the
trainer's checkpoint stays for the next run), and an exit handler ends the run KILLED
with everything logged so far. ``kill -9`` cannot be caught: the next run on the host
ends the runs whose process is gone. A run's process holds a lock file while it lives
(``.vaeops/run-locks/<run id>.lock``), which the kernel drops however it dies; where
that file cannot be seen, the run's process id is checked, but only from the same
boot and PID namespace (a container's pids mean nothing outside it). A run whose
process cannot be checked either way is left alone: a live run is never ended.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import mlflow
from filelock import FileLock
from kedro.framework.hooks import hook_impl
from mlflow.entities import Run, RunStatus

from vaeops.files import LockHeld, hold_exclusive_lock, release_lock

logger = logging.getLogger(__name__)

HOST_TAG = "vaeops.host"
PID_TAG = "vaeops.pid"
# "<boot id>/<pid namespace>": where PID_TAG names a process.
PROCESS_NAMESPACE_TAG = "vaeops.pid_namespace"
# The lock file the run's process holds while it lives.
RUN_LOCK_TAG = "vaeops.run_lock"
RUN_LOCK_DIR = Path(".vaeops/run-locks")
END_REASON_TAG = "vaeops.end_reason"
# SIGHUP: the terminal or SSH session of an interactive run went away.
STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
KILLED = RunStatus.to_string(RunStatus.KILLED)
FAILED = RunStatus.to_string(RunStatus.FAILED)


class RunStatusHooks:
    """Tags the run with its host and pid, ends the runs that an earlier process on this
    host left RUNNING, and ends this run KILLED when a signal stops the process.

    ``trylast`` on before_pipeline_run: kedro-mlflow has opened the run by then.
    """

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._run_lock: FileLock | None = None
        self._signal: str | None = None
        self._previous_handlers: dict[signal.Signals, Any] = {}
        atexit.register(self._end_unfinished_run)

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        run = mlflow.active_run()
        if run is None:  # tracking is disabled for this pipeline
            return
        self._run_id = run.info.run_id
        self._signal = None
        self._catch_stopping_signals()
        self._run_lock = hold_exclusive_lock(RUN_LOCK_DIR / f"{self._run_id}.lock")
        mlflow.set_tags(
            {
                HOST_TAG: socket.gethostname(),
                PID_TAG: str(os.getpid()),
                PROCESS_NAMESPACE_TAG: process_namespace(),
                RUN_LOCK_TAG: str(Path(self._run_lock.lock_file).resolve()),
            }
        )
        end_runs_of_dead_processes(mlflow.MlflowClient(), run.info.experiment_id, run.info.run_id)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._forget_run()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._forget_run()  # kedro-mlflow ends the run FAILED

    def _catch_stopping_signals(self) -> None:
        """Only in the main thread (Python's rule), and never over a signal that the
        caller chose to ignore (``nohup``, a background job's SIGINT)."""
        if self._previous_handlers or not _in_main_thread():
            return
        for stopping in STOPPING_SIGNALS:
            current = signal.getsignal(stopping)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                self._previous_handlers[stopping] = current
                signal.signal(stopping, self._interrupt)

    def _restore_signals(self) -> None:
        for stopping, handler in self._previous_handlers.items():
            signal.signal(stopping, handler)
        self._previous_handlers = {}

    def _interrupt(self, signum: int, frame: Any) -> None:
        """Unwind as Ctrl-C does. A second signal during the unwinding acts as it would
        without this handler, so an impatient operator can still stop the process."""
        self._signal = signal.Signals(signum).name
        self._restore_signals()
        raise KeyboardInterrupt(f"{self._signal} received")

    def _forget_run(self) -> None:
        self._run_id = None
        self._restore_signals()
        if self._run_lock is not None:
            release_lock(self._run_lock)
            Path(self._run_lock.lock_file).unlink(missing_ok=True)
            self._run_lock = None

    def _end_unfinished_run(self) -> None:
        """At exit, after a signal or anything else that skipped the pipeline hooks, and
        before MLflow's own exit handler would call the run FINISHED."""
        if self._run_id is None:
            return
        status = KILLED if self._signal else FAILED
        reason = (
            f"{self._signal} received during the run"
            if self._signal
            else "the process exited before the pipeline finished"
        )
        client = mlflow.MlflowClient()
        client.set_tag(self._run_id, END_REASON_TAG, reason)
        while mlflow.active_run() is not None:  # nested runs first, then the pipeline's
            mlflow.end_run(status)
        if client.get_run(self._run_id).info.status == "RUNNING":  # opened in another thread
            client.set_terminated(self._run_id, status)
        logger.warning("MLflow run %s ended %s: %s.", self._run_id, status, reason)
        self._forget_run()


def end_runs_of_dead_processes(
    client: mlflow.MlflowClient, experiment_id: str, current_run_id: str
) -> list[str]:
    """End KILLED every RUNNING run of the experiment that a process of this host opened
    and that process is gone (``kill -9``, out of memory, power loss), with its
    RUNNING nested runs; returns their ids. A run of another host, or one whose process
    cannot be checked from here (``process_gone``), is left alone."""
    host = socket.gethostname()
    stale = [
        run
        for run in client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        )
        if run.info.run_id != current_run_id and process_gone(run)
    ]
    ended = []
    for run in stale:
        # A run ends before its process lets go of its lock: one that ended between the
        # search and the check is no longer RUNNING, and keeps its own status.
        if client.get_run(run.info.run_id).info.status != "RUNNING":
            continue
        reason = f"process {run.data.tags[PID_TAG]} on {host} died without ending the run"
        children = client.search_runs(
            [experiment_id],
            filter_string=(
                f"attributes.status = 'RUNNING' and tags.`mlflow.parentRunId` = '{run.info.run_id}'"
            ),
        )
        for ending in (*children, run):
            client.set_tag(ending.info.run_id, END_REASON_TAG, reason)
            client.set_terminated(ending.info.run_id, KILLED)
            ended.append(ending.info.run_id)
        logger.warning("Ended MLflow run %s KILLED: %s.", run.info.run_id, reason)
    return ended


def process_gone(run: Run) -> bool:
    """Whether the process that opened ``run`` is known to be gone: its lock file is
    free, or, where the file is not visible, its pid is unused in the same boot and
    PID namespace. Anything else, a lock file this user may not open included, counts
    as alive."""
    lock_file = run.data.tags.get(RUN_LOCK_TAG)
    try:
        if lock_file and Path(lock_file).exists():
            lock = hold_exclusive_lock(lock_file)
            release_lock(lock)
            Path(lock_file).unlink(missing_ok=True)
            return True
    except LockHeld:
        return False
    except OSError:  # another user's lock file, say: it cannot be checked from here
        return False
    if run.data.tags.get(PROCESS_NAMESPACE_TAG) != process_namespace():
        return False
    return not _process_alive(int(run.data.tags[PID_TAG]))


def process_namespace() -> str:
    """This boot and PID namespace: two processes with the same pid and namespace are
    one. Outside Linux, "unknown", and pids are compared as before namespaces."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return "unknown"


def _process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything). A
    reused pid keeps a dead run RUNNING until that process ends: never the reverse."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
