"""Training from a ``training`` parameters block, with live MLflow curves, a progress
bar and a figure of the curves once it is done.

The training, benchmark and retraining pipelines all train this way; keeping it
here lets them share it without importing each other.
"""

from __future__ import annotations

import pandas as pd
import scipy.sparse as sp
from matplotlib.figure import Figure

from vaeops.adapters.kedro.checkpoints import (
    CheckpointClaim,
    finish_once_outputs_saved,
)
from vaeops.adapters.mlflow.tracking import MlflowEpochLogger
from vaeops.adapters.progress import EpochProgressBar
from vaeops.recommenders.configurations import train_configuration
from vaeops.recommenders.models import ModelConfig
from vaeops.recommenders.training import Checkpointing, TrainingResult


def train_from_parameters(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    training: dict,
    progress_label: str | None = None,
    checkpointing: Checkpointing | None = None,
) -> tuple[TrainingResult, ModelConfig]:
    """Train from a ``training`` parameters block (its ``model`` entry is the
    architecture), logging each epoch to the active MLflow run with a progress bar.

    With ``checkpointing``, a run killed part-way resumes from its checkpoint when
    called again with the same settings and data. The run holds the checkpoint while it
    trains (a second run on the same file refuses), and the file is deleted once Kedro
    has saved the node's outputs (``CheckpointHooks``): the next run then trains afresh,
    while one after a failed save resumes the finished training instead of repeating it.
    """
    progress = EpochProgressBar(training["epochs"], progress_label or training["model"]["kind"])
    claim = None
    try:
        claim = CheckpointClaim.take(checkpointing.path) if checkpointing else None
        result = train_configuration(
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
    return result, result.model.config


def training_curves(history: pd.DataFrame) -> Figure:
    """Loss, KL with its weight β, and the validation metric with the kept epoch marked."""
    validation_column = next(c for c in history.columns if c.startswith("val_ndcg_at_"))
    figure = Figure(figsize=(13, 3.6), constrained_layout=True)
    axes = figure.subplots(1, 3)
    axes[0].plot(history["epoch"], history["loss"], label="loss")
    axes[0].plot(history["epoch"], history["neg_log_likelihood"], label="−log-likelihood")
    axes[0].set_title("training loss")
    axes[0].legend()
    axes[1].plot(history["epoch"], history["kl"], color="tab:purple", label="KL")
    twin = axes[1].twinx()
    twin.plot(history["epoch"], history["beta"], color="tab:gray", linestyle="--", label="β")
    axes[1].set_title("KL and its weight β")
    axes[1].legend(loc="upper left")
    twin.legend(loc="lower right")
    best = history[validation_column].idxmax()
    axes[2].plot(history["epoch"], history[validation_column], color="tab:green")
    axes[2].axvline(
        history.loc[best, "epoch"], color="tab:red", linestyle=":", label="kept checkpoint"
    )
    axes[2].set_title(validation_column.replace("_", " "))
    axes[2].legend()
    for axis in axes:
        axis.set_xlabel("epoch")
    return figure
