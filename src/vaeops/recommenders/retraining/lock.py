"""One retraining run at a time: an advisory lock the kernel releases when its holder
dies, so a killed run leaves no stale lock behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaeops.files import LockHeld, hold_exclusive_lock, release_lock


class RetrainingInProgress(RuntimeError):
    """Another process holds the retraining lock."""


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration, or raise RetrainingInProgress
    naming the run that holds it (``hold_exclusive_lock``)."""
    try:
        lock = hold_exclusive_lock(path)
    except LockHeld as held:
        raise RetrainingInProgress(
            f"another retraining run is in progress ({held.holder}; lock {held.path}); this "
            "run does nothing. Wait for it to finish, or schedule runs further apart."
        ) from None
    try:
        yield
    finally:
        release_lock(lock)
