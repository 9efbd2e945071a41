"""A training run's checkpoint: what it must match to be resumed, and its reading and
writing, safe against truncated, foreign or malicious files.

A run can write a checkpoint every few epochs (weights, optimizer and random states,
history, best weights so far); the same call resumes from it, so a killed run loses at
most those epochs and ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from vaeops.files import torch_save_atomically
from vaeops.recommenders.settings import TrainingParameters

logger = logging.getLogger(__name__)

CHECKPOINT_KEYS = frozenset({"fingerprint", "loop", "progress"})


@dataclass(frozen=True)
class Checkpointing:
    """Where a run keeps its checkpoint and how often (in epochs) it writes it."""

    path: Path
    every: int


def fingerprint(training: TrainingParameters, matrices: tuple[sp.csr_matrix | None, ...]) -> dict:
    """What a checkpoint must match to be resumed: the settings and the data."""
    data = hashlib.sha256()
    for matrix in matrices:
        if matrix is not None:
            for array in (matrix.indptr, matrix.indices, matrix.data):
                data.update(np.ascontiguousarray(array).tobytes())
    n_items = {"model.n_items": matrices[0].shape[1]}
    settings = n_items | {f"model.{k}": v for k, v in training.model.model_dump().items()}
    settings.update(training.model_dump(exclude={"model", "device"}))
    return {"settings": json.loads(json.dumps(settings)), "data": data.hexdigest()}


def load_checkpoint(path: Path, fingerprint: dict) -> dict | None:
    if not path.exists():
        return None
    saved = _read_checkpoint(path)
    if saved is None:
        return None
    if saved["fingerprint"] == fingerprint:
        return saved
    before, now = saved["fingerprint"]["settings"], fingerprint["settings"]
    changed = [
        f"{key} {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted(before.keys() | now.keys())
        if before.get(key) != now.get(key)
    ]
    if saved["fingerprint"]["data"] != fingerprint["data"]:
        changed.append("the training or validation data")
    logger.warning(
        "Checkpoint %s was written for other settings (changed: %s); starting afresh.",
        path,
        "; ".join(changed),
    )
    return None


def _read_checkpoint(path: Path) -> dict | None:
    """The checkpoint's contents, or None once an unreadable one is moved aside.

    ``weights_only`` unpickles tensors and plain containers only: a checkpoint folder
    can be shared storage, and a pickle that calls code must never run. A truncated,
    foreign or malicious file is renamed ``<name>.corrupt-<time>`` (kept for a look,
    never read again), so one bad file cannot block every later run.
    """
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if _is_checkpoint(saved):
            return saved
        problem = "it holds no training checkpoint written by vaeops"
    except OSError:  # the file could not be read at all (permissions, I/O): not its content
        raise
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, aside)
    logger.warning(
        "Checkpoint %s could not be read (%s); moved it to %s and starting afresh.",
        path,
        problem,
        aside,
    )
    return None


def _is_checkpoint(saved: object) -> bool:
    """The shape ``save_checkpoint`` writes, down to the fingerprint a resume compares."""
    if not (isinstance(saved, dict) and CHECKPOINT_KEYS <= saved.keys()):
        return False
    fingerprint = saved["fingerprint"]
    return (
        isinstance(fingerprint, dict)
        and isinstance(fingerprint.get("settings"), dict)
        and isinstance(fingerprint.get("data"), str)
        and isinstance(saved["loop"], dict)
        and isinstance(saved["progress"], dict)
    )


def save_checkpoint(path: Path, state: dict) -> None:
    """Written atomically: a kill or a full disk mid-write never leaves a truncated
    checkpoint where the next run would look for one."""
    torch_save_atomically(state, path)
