"""Training loop for the autoencoder recommenders, as in the authors' code.

Each epoch runs the model's training phases (one pass updating every weight for
Mult-VAE and Mult-DAE; encoder passes, then decoder passes for RecVAE), each
pass over the training users in a fresh random order, then ranks all items for
the validation users. The weights with the best validation NDCG@K are kept, and
training stops once ``patience`` epochs have brought no better one. Protocols
with no validation users train for every epoch and keep the last weights, so a
test set never picks a checkpoint.

β rises linearly to ``anneal_cap`` over a share of the planned updates, so it
reaches the cap on any dataset; patience only counts once it has, because a
model whose objective is still changing is not yet the one being judged.
Losses are summed on the device and read once per epoch, so the batch loop
never waits for the device.

A run can write a checkpoint every few epochs (weights, optimizer and random
states, history, best weights so far); the same call resumes from it, so a
killed run loses at most those epochs and ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import scipy.sparse as sp
import torch

from vaeops.data.sparse import DeviceCSR, resolve_device
from vaeops.recommenders.checkpoint import (
    Checkpointing,
    fingerprint,
    load_checkpoint,
    save_checkpoint,
)
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import Autoencoder, MultVAE, build_model
from vaeops.recommenders.precision import PRECISIONS, resolve_precision
from vaeops.recommenders.settings import TrainingParameters

logger = logging.getLogger(__name__)


class EpochCallback(Protocol):
    """Receives each epoch's record; may raise to stop training (e.g. pruning)."""

    def __call__(self, record: dict[str, float]) -> None: ...


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; lower the learning rate or the KL weight."""


@dataclass
class TrainingResult:
    model: Autoencoder  # holds the kept weights, in eval mode
    history: list[dict[str, float]]
    best_epoch: int  # the kept epoch: the last one when there are no validation users
    best_validation_ndcg: float  # NaN without validation users
    device: str
    seconds: float
    config: TrainingParameters = field(repr=False)
    stopped_epoch: int = 0  # the last epoch trained (early stopping ends before config.epochs)
    precision: str = "fp32"  # what "auto" resolved to


def kl_weight(update_count: int, anneal_cap: float, updates_to_cap: int) -> float:
    """β before an update: linear from 0, ``anneal_cap`` from ``updates_to_cap`` on."""
    if updates_to_cap <= 0:
        return anneal_cap
    return anneal_cap * min(1.0, update_count / updates_to_cap)


def train_autoencoder(
    training: TrainingParameters,
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    callbacks: tuple[EpochCallback, ...] = (),
    checkpointing: Checkpointing | None = None,
) -> TrainingResult:
    """Train the model ``training.model`` describes, over the items of ``train``."""
    if (validation_fold_in is None) != (validation_target is None):
        raise ValueError(
            "Pass both validation_fold_in and validation_target, or neither (then the "
            "last epoch's weights are kept)."
        )
    device = resolve_device(training.device)
    precision = resolve_precision(training.precision, device)
    logger.info("Training %s on %s in %s", training.model.kind, device, precision)
    torch.manual_seed(training.seed)
    model = build_model(training.model, train.shape[1]).to(device)
    loop = TrainingLoop(model, DeviceCSR(train, device), training, precision)
    validation = (
        None
        if validation_fold_in is None
        else (DeviceCSR(validation_fold_in, device), DeviceCSR(validation_target, device))
    )
    run = _CheckpointedRun(
        checkpointing, fingerprint(training, (train, validation_fold_in, validation_target))
    )
    progress = run.resume(loop, callbacks)
    started = time.perf_counter()
    _train_epochs(loop, validation, progress, callbacks, run)
    stopped_epoch = loop.epochs_done
    if validation is None:
        best_ndcg, best_epoch = math.nan, stopped_epoch
    else:
        best_ndcg, best_epoch = progress.best_ndcg, progress.best_epoch
        model.load_state_dict(progress.best_state)
    model.eval()
    return TrainingResult(
        model=model,
        history=progress.history,
        best_epoch=best_epoch,
        best_validation_ndcg=best_ndcg,
        device=str(device),
        seconds=time.perf_counter() - started,
        config=training,
        stopped_epoch=stopped_epoch,
        precision=precision,
    )


def _train_epochs(
    loop: TrainingLoop,
    validation: tuple[DeviceCSR, DeviceCSR] | None,
    progress: ValidationProgress,
    callbacks: tuple[EpochCallback, ...],
    run: _CheckpointedRun,
) -> None:
    """The epochs left after ``loop.epochs_done``, until the last or patience runs out."""
    training = loop.config
    # A checkpoint written when patience ran out resumes as a finished run.
    last_epoch = 0 if progress.out_of_patience(training.patience) else training.epochs
    for epoch in range(loop.epochs_done + 1, last_epoch + 1):
        epoch_started = time.perf_counter()
        record = {"epoch": epoch, **loop.run_epoch()}
        record["train_seconds"] = time.perf_counter() - epoch_started
        if validation is not None:
            ndcg = validation_ndcg(loop.model, *validation, training)
            progress.observe(epoch, ndcg, loop.model, counts=loop.at_full_kl_weight())
            record[f"val_ndcg_at_{training.validation_k}"] = ndcg
            record[f"best_val_ndcg_at_{training.validation_k}"] = progress.best_ndcg
        record["epoch_seconds"] = time.perf_counter() - epoch_started
        progress.history.append(record)
        for callback in callbacks:
            callback(record)
        stop = progress.out_of_patience(training.patience)
        run.save(epoch, last=stop or epoch == training.epochs, loop=loop, progress=progress)
        if stop:
            logger.info(stopping_message(epoch, progress, training))
            break


def stopping_message(epoch: int, progress: ValidationProgress, training: TrainingParameters) -> str:
    """Why training stopped after ``epoch``, and which epoch it keeps.

    Stale epochs only count once β is at its cap, and once they count they all do, so
    the last ``patience`` epochs are the counted ones: when they start later than the
    epoch after the best one, β reached its cap there.
    """
    counted_from = epoch - training.patience + 1
    kept = (
        f"Stopping after epoch {epoch}, keeping epoch {progress.best_epoch} "
        f"(validation NDCG@{training.validation_k} {progress.best_ndcg:.4f})"
    )
    if counted_from > progress.best_epoch + 1:
        return (
            f"{kept}: no better one in the {training.patience} epochs since β reached its "
            f"cap in epoch {counted_from}; patience counts from there"
        )
    return f"{kept}: no better one in {training.patience} epochs"


@dataclass(frozen=True)
class _CheckpointedRun:
    """A run's checkpoint, if it keeps one, and the fingerprint a resume must match."""

    checkpointing: Checkpointing | None
    fingerprint: dict

    def resume(
        self, loop: TrainingLoop, callbacks: tuple[EpochCallback, ...]
    ) -> ValidationProgress:
        """The progress saved in a matching checkpoint, replayed to ``callbacks``, with the
        loop's state restored; a fresh progress without one."""
        if self.checkpointing is None:
            return ValidationProgress()
        saved = load_checkpoint(self.checkpointing.path, self.fingerprint)
        if saved is None:
            return ValidationProgress()
        loop.load_state(saved["loop"])
        progress = ValidationProgress(**saved["progress"])
        logger.info(
            "Resuming from %s after epoch %d",
            self.checkpointing.path,
            progress.history[-1]["epoch"],
        )
        for record in progress.history:
            for callback in callbacks:
                callback(record)
        return progress

    def save(
        self, epoch: int, last: bool, loop: TrainingLoop, progress: ValidationProgress
    ) -> None:
        """Every ``every`` epochs and after the last one, so a finished run resumes as
        finished."""
        if self.checkpointing is not None and (epoch % self.checkpointing.every == 0 or last):
            save_checkpoint(
                self.checkpointing.path,
                {
                    "fingerprint": self.fingerprint,
                    "loop": loop.state(),
                    "progress": asdict(progress),
                },
            )


@dataclass
class ValidationProgress:
    """What validation has shown so far: the history, the best weights and how long ago."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_ndcg: float = -math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    stale_epochs: int = 0

    def observe(self, epoch: int, ndcg: float, model: torch.nn.Module, counts: bool) -> None:
        if ndcg > self.best_ndcg:
            self.best_ndcg, self.best_epoch, self.stale_epochs = ndcg, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        elif counts:
            self.stale_epochs += 1

    def out_of_patience(self, patience: int | None) -> bool:
        return patience is not None and self.stale_epochs >= patience


class TrainingLoop:
    """Epochs of training: the model's phases, their optimizers, the shuffling and
    β's schedule, with a state that can be saved and restored exactly."""

    def __init__(
        self, model: Autoencoder, train_rows: DeviceCSR, config: TrainingParameters, precision: str
    ):
        self.model, self.train_rows, self.config = model, train_rows, config
        self.autocast_dtype = PRECISIONS[precision]
        self.phases = model.training_phases()
        self.optimizers = [
            make_optimizer(phase.parameters, config.learning_rate) for phase in self.phases
        ]
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.update_count = 0
        self.epochs_done = 0
        batches_per_pass = math.ceil(train_rows.shape[0] / config.batch_size)
        updates_per_epoch = batches_per_pass * sum(phase.passes for phase in self.phases)
        self.updates_to_cap = config.updates_to_cap(updates_per_epoch)

    def beta(self) -> float:
        return kl_weight(self.update_count, self.config.anneal_cap, self.updates_to_cap)

    def at_full_kl_weight(self) -> bool:
        """True once β is at its cap, or for models whose KL weight is not annealed."""
        return not isinstance(self.model, MultVAE) or self.update_count >= self.updates_to_cap

    def run_epoch(self) -> dict[str, float]:
        """One epoch of every phase; the record of its mean losses (and β if annealed)."""
        sums = torch.zeros(3, device=self.train_rows.device)
        n_batches = 0
        all_parameters = list(self.model.parameters())
        for phase, optimizer in zip(self.phases, self.optimizers, strict=True):
            in_phase = {id(p) for p in phase.parameters}
            frozen = [p for p in all_parameters if p.requires_grad and id(p) not in in_phase]
            for p in frozen:  # no gradients for weights this phase does not update
                p.requires_grad_(False)
            self.model.input_dropout = phase.input_dropout
            for _ in range(phase.passes):
                order = torch.randperm(self.train_rows.shape[0], generator=self.shuffle)
                sums += self._train_pass(self.train_rows.permute_rows(order), optimizer)
                n_batches += math.ceil(self.train_rows.shape[0] / self.config.batch_size)
            for p in frozen:
                p.requires_grad_(True)
            self.model.end_phase(phase.name)
        self.epochs_done += 1
        loss, nll, kl = (sums / max(n_batches, 1)).tolist()
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"Training loss became {loss} at epoch {self.epochs_done}; lower the learning "
                f"rate (now {self.config.learning_rate}) or the KL weight cap "
                f"(now {self.config.anneal_cap})."
            )
        record = {"loss": loss, "neg_log_likelihood": nll, "kl": kl}
        if isinstance(self.model, MultVAE):  # the β of the epoch's last update
            record["beta"] = kl_weight(
                self.update_count - 1, self.config.anneal_cap, self.updates_to_cap
            )
        return record

    def _train_pass(self, rows: DeviceCSR, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        self.model.train()
        sums = torch.zeros(3, device=rows.device)
        for batch in rows.batches(self.config.batch_size):
            with torch.autocast(
                rows.device.type,
                dtype=self.autocast_dtype,
                enabled=self.autocast_dtype is not None,
            ):
                loss, nll, kl = self.model.loss(batch, self.beta())
            if self.config.l2_penalty:
                loss = loss + self.config.l2_penalty * sum(
                    w.square().sum() for w in self.model.weight_matrices()
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.stack([loss.detach(), nll.detach(), kl.detach()])
            self.update_count += 1
        return sums

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "shuffle": self.shuffle.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "update_count": self.update_count,
            "epochs_done": self.epochs_done,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.update_count = state["update_count"]
        self.epochs_done = state["epochs_done"]


def make_optimizer(parameters, learning_rate: float) -> torch.optim.Adam:
    """Adam as in the paper; the fused kernel updates all ~50M parameters of a
    40k-item model in one pass, several times faster than the per-tensor loop."""
    parameters = list(parameters)
    device_type = parameters[0].device.type
    return torch.optim.Adam(parameters, lr=learning_rate, fused=device_type in ("cuda", "cpu"))


@torch.no_grad()
def validation_ndcg(
    model: Autoencoder, fold_in: DeviceCSR, target: DeviceCSR, config: TrainingParameters
) -> float:
    model.eval()
    result = evaluate(
        model.score, fold_in, target, ks=(config.validation_k,), batch_size=config.eval_batch_size
    )
    return float(result.summary()[f"ndcg_at_{config.validation_k}"])
