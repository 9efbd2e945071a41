"""One training per checkpoint file, and the checkpoint kept until the model is saved.

A run that trains holds a lock beside its checkpoint (``<checkpoint>.lock``) from the
start of its pipeline, so a second ``kedro run`` in the same folder refuses before it
runs anything (it would otherwise rewrite the split the first one evaluates on), and
never resumes from, or discards, the first one's checkpoint. The checkpoint of a
finished training is deleted only once Kedro has saved every output of the node that
trained (the weights among them): if a save fails (a full disk), the next run resumes
the finished training from it instead of training again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import click
from filelock import FileLock
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Node, Pipeline

from vaeops.files import LockHeld, hold_exclusive_lock, release_lock
from vaeops.recommenders.checkpoint import Checkpointing
from vaeops.recommenders.settings import CheckpointParameters

logger = logging.getLogger(__name__)

# The parameters block that gives a node its checkpoint, and the one training
# pipeline that checkpoints: its file is <checkpoint.dir>/training.pt.
CHECKPOINT_PARAMETERS = "params:checkpoint"
TRAINING_RUN_NAME = "training"


class CheckpointInUse(click.ClickException):
    """Another process trains with the same checkpoint file. As a ClickException,
    `kedro run` prints the message alone and exits with status 1."""


@dataclass
class CheckpointClaim:
    """This process's hold on a checkpoint file; one per file, however often taken."""

    path: Path
    lock: FileLock = field(repr=False)

    @classmethod
    def take(cls, path: Path) -> CheckpointClaim:
        if path in _HELD:
            return _HELD[path]
        try:
            lock = hold_exclusive_lock(path.with_name(f"{path.name}.lock"))
        except LockHeld as held:
            raise CheckpointInUse(
                f"the checkpoint {path} belongs to a training run in progress ({held.holder}); "
                "this run ran nothing. Wait for that run to end, or give this one its own "
                "folder: --params checkpoint.dir=<another folder>."
            ) from None
        _HELD[path] = cls(path, lock)
        return _HELD[path]

    def release(self) -> None:
        if _HELD.pop(self.path, None) is not None:
            release_lock(self.lock)

    def finish(self) -> None:
        """Delete the checkpoint of a training whose outputs are saved, then release it."""
        self.path.unlink(missing_ok=True)
        self.release()


_HELD: dict[Path, CheckpointClaim] = {}
_AWAITING_SAVE: list[CheckpointClaim] = []


def checkpointing_from_parameters(checkpoint: CheckpointParameters) -> Checkpointing:
    """The ``checkpoint`` parameters block as the trainer takes it, named after the
    training pipeline, the one that checkpoints."""
    path = Path(checkpoint.dir) / f"{TRAINING_RUN_NAME}.pt"
    return Checkpointing(path, checkpoint.every_epochs)


def finish_once_outputs_saved(claim: CheckpointClaim) -> None:
    """Called by a node that trained: ``CheckpointHooks`` finishes the claim once Kedro
    has saved all the node's outputs, or releases it, checkpoint kept, if anything fails."""
    _AWAITING_SAVE.append(claim)


class CheckpointHooks:
    """Claims the checkpoint before the pipeline runs, and finishes it once the training
    node's outputs are saved. Kedro calls ``after_node_run`` before it saves a node's
    outputs, and ``after_dataset_saved`` after each save.

    ``tryfirst`` on before_pipeline_run: a refusal comes before kedro-mlflow opens its
    run, as Kedro calls no error hook for it, which would leave that run RUNNING.
    """

    def __init__(self) -> None:
        self._unsaved: dict[str, tuple[set[str], list[CheckpointClaim]]] = {}

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        if any(CHECKPOINT_PARAMETERS in node.inputs for node in pipeline.nodes):
            checkpoint = catalog.load(CHECKPOINT_PARAMETERS)
            if checkpoint:
                settings = CheckpointParameters.model_validate(checkpoint)
                CheckpointClaim.take(checkpointing_from_parameters(settings).path)

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
        for claim in [claim for _, held in self._unsaved.values() for claim in held]:
            logger.warning(
                "Kept checkpoint %s: the run ended before its outputs were saved; the next "
                "run with the same settings resumes from it.",
                claim.path,
            )
        for claim in list(_HELD.values()):
            claim.release()
        self._unsaved.clear()
        _AWAITING_SAVE.clear()
