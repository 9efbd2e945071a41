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
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from vaeops.data.sparse import DeviceCSR, resolve_device
from vaeops.files import torch_save_atomically
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import Autoencoder, ModelConfig, MultVAE, build_model

logger = logging.getLogger(__name__)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
PRECISION_CHOICES = ("auto", *PRECISIONS)
# The paper's schedule on ML-20M (β = updates / 200,000, capped at 0.2) reaches the
# cap at update 40,000 of 200 epochs x 234 updates: 85% of the planned updates.
PAPER_ANNEAL_SHARE = 0.85
CHECKPOINT_KEYS = frozenset({"fingerprint", "loop", "progress"})


@dataclass
class TrainingConfig:
    epochs: int = 200
    batch_size: int = 500
    learning_rate: float = 1e-3
    anneal_cap: float = 0.2
    # β reaches anneal_cap after this share of the planned updates (all epochs).
    anneal_share: float = PAPER_ANNEAL_SHARE
    # The paper's absolute form, β = updates / total_anneal_steps (capped), to
    # reproduce a published run exactly; when set, anneal_share is not used.
    total_anneal_steps: int | None = None
    # Epochs without a better validation NDCG before stopping, counted once β is
    # at its cap; None trains every epoch.
    patience: int | None = 20
    # Sum of squared weights added to the loss; the authors use 0 for Mult-VAE
    # and 0.01 / batch_size for Mult-DAE.
    l2_penalty: float = 0.0
    validation_k: int = 100
    eval_batch_size: int = 2000
    seed: int = 98765
    device: str = "auto"
    # "bf16" runs the forward pass under bfloat16 autocast (loss and optimizer
    # state stay float32); "auto" takes bf16 only where the device computes it
    # natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX), fp32 elsewhere.
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_CHOICES:
            raise ValueError(
                f"precision must be one of {list(PRECISION_CHOICES)}, got {self.precision!r}."
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def updates_to_cap(self, updates_per_epoch: int) -> int:
        """The update at which β reaches ``anneal_cap``."""
        if self.total_anneal_steps is not None:
            return round(self.anneal_cap * self.total_anneal_steps)
        return round(self.anneal_share * self.epochs * updates_per_epoch)


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
    config: TrainingConfig = field(repr=False)
    stopped_epoch: int = 0  # the last epoch trained (early stopping ends before config.epochs)
    precision: str = "fp32"  # what "auto" resolved to


@dataclass(frozen=True)
class Checkpointing:
    """Where a run keeps its checkpoint and how often (in epochs) it writes it."""

    path: Path
    every: int = 5


def kl_weight(update_count: int, anneal_cap: float, updates_to_cap: int) -> float:
    """β before an update: linear from 0, ``anneal_cap`` from ``updates_to_cap`` on."""
    if updates_to_cap <= 0:
        return anneal_cap
    return anneal_cap * min(1.0, update_count / updates_to_cap)


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    return "bf16" if computes_bf16_natively(device) else "fp32"


def computes_bf16_natively(device: torch.device) -> bool:
    """Emulated bf16 is several times slower than fp32 (AVX2-only CPUs), so only
    hardware with bf16 arithmetic qualifies."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no reliable flag list, so fp32
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def train_autoencoder(
    model_config: ModelConfig,
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    config: TrainingConfig | None = None,
    callbacks: tuple[EpochCallback, ...] = (),
    checkpointing: Checkpointing | None = None,
) -> TrainingResult:
    config = config or TrainingConfig()
    if train.shape[1] != model_config.n_items:
        raise ValueError(
            f"The model expects {model_config.n_items} items but the training matrix has "
            f"{train.shape[1]} columns; build the model config from the same split."
        )
    if (validation_fold_in is None) != (validation_target is None):
        raise ValueError(
            "Pass both validation_fold_in and validation_target, or neither (then the "
            "last epoch's weights are kept)."
        )
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    logger.info("Training %s on %s in %s", model_config.kind, device, precision)
    torch.manual_seed(config.seed)
    model = build_model(model_config).to(device)
    loop = TrainingLoop(model, DeviceCSR(train, device), config, precision)
    validation = (
        None
        if validation_fold_in is None
        else (DeviceCSR(validation_fold_in, device), DeviceCSR(validation_target, device))
    )
    fingerprint = _fingerprint(model_config, config, (train, validation_fold_in, validation_target))
    progress = ValidationProgress()
    if checkpointing is not None:
        saved = _load_checkpoint(checkpointing.path, fingerprint)
        if saved is not None:
            loop.load_state(saved["loop"])
            progress = ValidationProgress(**saved["progress"])
            logger.info(
                "Resuming from %s after epoch %d", checkpointing.path, progress.history[-1]["epoch"]
            )
            for record in progress.history:
                for callback in callbacks:
                    callback(record)

    started = time.perf_counter()
    # A checkpoint written when patience ran out resumes as a finished run.
    out_of_patience = config.patience is not None and progress.stale_epochs >= config.patience
    for epoch in range(loop.epochs_done + 1, 1 if out_of_patience else config.epochs + 1):
        epoch_started = time.perf_counter()
        record = {"epoch": epoch, **loop.run_epoch()}
        record["train_seconds"] = time.perf_counter() - epoch_started
        if validation is not None:
            ndcg = validation_ndcg(model, *validation, config)
            progress.observe(epoch, ndcg, model, counts=loop.at_full_kl_weight())
            record[f"val_ndcg_at_{config.validation_k}"] = ndcg
            record[f"best_val_ndcg_at_{config.validation_k}"] = progress.best_ndcg
        record["epoch_seconds"] = time.perf_counter() - epoch_started
        progress.history.append(record)
        for callback in callbacks:
            callback(record)
        stop = config.patience is not None and progress.stale_epochs >= config.patience
        last = stop or epoch == config.epochs  # a finished run resumes as finished
        if checkpointing is not None and (epoch % checkpointing.every == 0 or last):
            _save_checkpoint(
                checkpointing.path,
                {"fingerprint": fingerprint, "loop": loop.state(), "progress": asdict(progress)},
            )
        if stop:
            logger.info(
                "Stopping after epoch %d: no better validation NDCG@%d for %d epochs",
                epoch,
                config.validation_k,
                config.patience,
            )
            break
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
        config=config,
        stopped_epoch=stopped_epoch,
        precision=precision,
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


class TrainingLoop:
    """Epochs of training: the model's phases, their optimizers, the shuffling and
    β's schedule, with a state that can be saved and restored exactly."""

    def __init__(
        self, model: Autoencoder, train_rows: DeviceCSR, config: TrainingConfig, precision: str
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
    model: Autoencoder, fold_in: DeviceCSR, target: DeviceCSR, config: TrainingConfig
) -> float:
    model.eval()
    result = evaluate(
        model.score, fold_in, target, ks=(config.validation_k,), batch_size=config.eval_batch_size
    )
    return float(result.summary()[f"ndcg_at_{config.validation_k}"])


# --------------------------------------------------------------------------- checkpoints


def _fingerprint(
    model_config: ModelConfig, config: TrainingConfig, matrices: tuple[sp.csr_matrix | None, ...]
) -> dict:
    """What a checkpoint must match to be resumed: the settings and the data."""
    data = hashlib.sha256()
    for matrix in matrices:
        if matrix is not None:
            for array in (matrix.indptr, matrix.indices, matrix.data):
                data.update(np.ascontiguousarray(array).tobytes())
    settings = {f"model.{k}": v for k, v in model_config.to_dict().items()}
    settings.update({k: v for k, v in config.to_dict().items() if k != "device"})
    return {"settings": json.loads(json.dumps(settings)), "data": data.hexdigest()}


def _load_checkpoint(path: Path, fingerprint: dict) -> dict | None:
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
    """The shape ``_save_checkpoint`` writes, down to the fingerprint a resume compares."""
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


def _save_checkpoint(path: Path, state: dict) -> None:
    """Written atomically: a kill or a full disk mid-write never leaves a truncated
    checkpoint where the next run would look for one."""
    torch_save_atomically(state, path)
