"""One training per checkpoint file, and the checkpoint kept until the model is saved.

A training run holds a lock beside its checkpoint (``<checkpoint>.lock``) while it
trains, so a second ``kedro run`` in the same folder refuses instead of resuming
from, or discarding, the first one's checkpoint. The checkpoint of a finished
training is deleted only once Kedro has saved every output of the node that trained
(the weights among them): if a save fails (a full disk), the next run resumes the
finished training from it instead of training again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import click
from filelock import FileLock
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from vaeops.files import LockHeld, hold_exclusive_lock, release_lock

logger = logging.getLogger(__name__)


class CheckpointInUse(click.ClickException):
    """Another process trains with the same checkpoint file. As a ClickException,
    `kedro run` prints the message alone and exits with status 1."""


@dataclass
class CheckpointClaim:
    """A training's hold on its checkpoint file."""

    path: Path
    lock: FileLock = field(repr=False)

    @classmethod
    def take(cls, path: Path) -> CheckpointClaim:
        try:
            lock = hold_exclusive_lock(path.with_name(f"{path.name}.lock"))
        except LockHeld as held:
            raise CheckpointInUse(
                f"the checkpoint {path} belongs to a training run in progress ({held.holder}); "
                "this run trained nothing. Wait for that run to end, or give this one its own "
                "folder: --params checkpoint.dir=<another folder>."
            ) from None
        return cls(path, lock)

    def release(self) -> None:
        release_lock(self.lock)

    def finish(self) -> None:
        """Delete the checkpoint of a training whose outputs are saved, then release it."""
        self.path.unlink(missing_ok=True)
        self.release()


_AWAITING_SAVE: list[CheckpointClaim] = []


def finish_once_outputs_saved(claim: CheckpointClaim) -> None:
    """Called by a node that trained: ``CheckpointHooks`` finishes the claim once Kedro
    has saved all the node's outputs, or releases it, checkpoint kept, if anything fails."""
    _AWAITING_SAVE.append(claim)


class CheckpointHooks:
    """Finishes the checkpoint claims of a node once its outputs are saved.

    Kedro calls ``after_node_run`` before it saves a node's outputs, and
    ``after_dataset_saved`` after each save.
    """

    def __init__(self) -> None:
        self._unsaved: dict[str, tuple[set[str], list[CheckpointClaim]]] = {}

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if _AWAITING_SAVE:
            self._unsaved[node.name] = (set(node.outputs), list(_AWAITING_SAVE))
            _AWAITING_SAVE.clear()
            self._finish_if_saved(node.name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        if node.name in self._unsaved:
            self._unsaved[node.name][0].discard(dataset_name)
            self._finish_if_saved(node.name)

    @hook_impl
    def on_node_error(self) -> None:
        self._release_all()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release_all()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release_all()

    def _finish_if_saved(self, node_name: str) -> None:
        unsaved, claims = self._unsaved[node_name]
        if not unsaved:
            for claim in claims:
                claim.finish()
            del self._unsaved[node_name]

    def _release_all(self) -> None:
        """Whatever has not been saved keeps its checkpoint, for the next run to resume."""
        claims = [claim for _, held in self._unsaved.values() for claim in held]
        for claim in claims + _AWAITING_SAVE:
            claim.release()
            logger.warning(
                "Kept checkpoint %s: the run ended before its outputs were saved; the next "
                "run with the same settings resumes from it.",
                claim.path,
            )
        self._unsaved.clear()
        _AWAITING_SAVE.clear()
