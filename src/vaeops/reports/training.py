"""The figure of a training run's curves."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def training_curves(history: pd.DataFrame) -> Figure:
    """Loss, KL (with its weight β where the model anneals it), and the validation metric
    with the kept epoch marked."""
    validation_column = next(c for c in history.columns if c.startswith("val_ndcg_at_"))
    figure = Figure(figsize=(13, 3.6), constrained_layout=True)
    axes = figure.subplots(1, 3)
    axes[0].plot(history["epoch"], history["loss"], label="loss")
    axes[0].plot(history["epoch"], history["neg_log_likelihood"], label="−log-likelihood")
    axes[0].set_title("training loss")
    axes[0].legend()
    axes[1].plot(history["epoch"], history["kl"], color="tab:purple", label="KL")
    axes[1].set_title("KL")
    axes[1].legend(loc="upper left")
    if "beta" in history:  # only a Mult-VAE anneals its KL weight
        twin = axes[1].twinx()
        twin.plot(history["epoch"], history["beta"], color="tab:gray", linestyle="--", label="β")
        axes[1].set_title("KL and its weight β")
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
