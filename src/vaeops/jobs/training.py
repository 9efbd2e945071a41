"""Training from a ``training`` parameters block, with live MLflow curves and a
progress bar.

The training, benchmark and retraining pipelines all train this way; keeping it
here lets them share it without importing each other.
"""

from __future__ import annotations

import pandas as pd
import scipy.sparse as sp

from vaeops.adapters.kedro.checkpoints import (
    CheckpointClaim,
    checkpointing_from_parameters,
    finish_once_outputs_saved,
)
from vaeops.adapters.mlflow.tracking import MlflowEpochLogger
from vaeops.adapters.progress import EpochProgressBar
from vaeops.recommenders.checkpoint import Checkpointing
from vaeops.recommenders.models import saved_config
from vaeops.recommenders.settings import CheckpointParameters, TrainingParameters
from vaeops.recommenders.training import TrainingResult, train_autoencoder


def train_from_parameters(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    training: TrainingParameters,
    progress_label: str | None = None,
    checkpointing: Checkpointing | None = None,
) -> TrainingResult:
    """Train from a ``training`` parameters block (its ``model`` entry is the
    architecture), logging each epoch to the active MLflow run with a progress bar.

    With ``checkpointing``, a run killed part-way resumes from its checkpoint when
    called again with the same settings and data. The run holds the checkpoint while it
    trains (a second run on the same file refuses), and the file is deleted once Kedro
    has saved the node's outputs (``CheckpointHooks``): the next run then trains afresh,
    while one after a failed save resumes the finished training instead of repeating it.
    """
    progress = EpochProgressBar(training.epochs, progress_label or training.model.kind)
    claim = None
    try:
        claim = CheckpointClaim.take(checkpointing.path) if checkpointing else None
        result = train_autoencoder(
            training,
            train,
            validation_fold_in,
            validation_target,
            callbacks=(MlflowEpochLogger(), progress),
            checkpointing=checkpointing,
        )
    except BaseException:
        if claim is not None:
            claim.release()
        raise
    finally:
        progress.close()
    if claim is not None:
        finish_once_outputs_saved(claim)
    return result


def training_run(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: TrainingParameters,
    dataset_name: str,
    checkpoint: CheckpointParameters | None,
) -> dict:
    """The training pipeline's run: the kept weights, their architecture, the history,
    the run's tags and its summary. ``checkpoint`` None trains without a checkpoint."""
    result = train_from_parameters(
        train,
        validation_fold_in,
        validation_target,
        training,
        checkpointing=checkpointing_from_parameters(checkpoint) if checkpoint else None,
    )
    return {
        "weights": result.model.state_dict(),
        "model_config": saved_config(result.model),
        "history": pd.DataFrame(result.history),
        "run_tags": {
            "dataset": dataset_name,
            "device": result.device,
            "model": training.model.kind,
        },
        "summary": {
            "best_epoch": result.best_epoch,
            "stopped_epoch": result.stopped_epoch,
            "precision": result.precision,
            f"best_val_ndcg_at_{training.validation_k}": result.best_validation_ndcg,
            "train_seconds": result.seconds,
            "device": result.device,
            "batch_size": training.batch_size,
        },
    }
