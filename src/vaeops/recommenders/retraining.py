"""Rules of scheduled retraining that need neither Kedro nor MLflow.

A retraining run must be safe to start from cron every night: it recognises
data it has already trained on (a fingerprint of the interactions), never
overlaps another run (an advisory lock the kernel releases when its holder
dies, so a killed run leaves no stale lock behind), and promotes a challenger
only when it beats the champion on the same users by a margin.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from vaeops.errors import DataError


class RetrainingInProgress(RuntimeError):
    """Another process holds the retraining lock."""


def interactions_fingerprint(interactions: pd.DataFrame) -> str:
    """sha256 of the interactions as a set of rows: the same rows in any order match.

    Every column counts (a changed rating is new data); rows are hashed with
    pandas' fixed-key row hash, then sorted, so appending rows in another
    order or re-reading the file gives the same fingerprint.
    """
    columns = sorted(interactions.columns)
    row_hashes = pd.util.hash_pandas_object(interactions[columns], index=False).to_numpy()
    digest = hashlib.sha256(",".join(columns).encode())
    digest.update(np.sort(row_hashes).tobytes())
    return digest.hexdigest()


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the duration, or raise RetrainingInProgress.

    The file records who holds it, for the message a second run prints. The
    kernel drops the lock when the holder exits, however it exits, so the file
    left behind by a killed run does not block the next one.
    """
    import fcntl  # POSIX only; imported here so that the fingerprint works everywhere

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "another process"
            raise RetrainingInProgress(
                f"another retraining run is in progress ({holder}; lock {path}); this run "
                "does nothing. Wait for it to finish, or schedule runs further apart."
            ) from None
        handle.truncate(0)
        handle.write(
            f"pid {os.getpid()} since {datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        )
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


_METRIC = re.compile(r"(ndcg|recall)_at_([1-9][0-9]*)")


def metric_depth(metric: str) -> int:
    """The K of ``ndcg_at_K`` or ``recall_at_K``, the metrics a promotion can be decided on."""
    match = _METRIC.fullmatch(metric)
    if match is None:
        raise DataError(
            f"retraining.metric={metric!r} is not supported; use ndcg_at_K or recall_at_K "
            "with a positive K, e.g. ndcg_at_100 (the paper's headline metric)."
        )
    return int(match.group(2))


def challenger_wins(champion_score: float, challenger_score: float, margin: float) -> bool:
    """The challenger must beat the champion by more than ``margin`` (absolute); NaN never wins."""
    return bool(np.isfinite(challenger_score) and challenger_score > champion_score + margin)
