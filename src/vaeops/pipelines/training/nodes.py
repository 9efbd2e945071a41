import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from vaeops.integrations.progress import EpochProgressBar  # noqa: E402
from vaeops.integrations.tracking import MlflowEpochLogger  # noqa: E402
from vaeops.recommenders.models import ModelConfig  # noqa: E402
from vaeops.recommenders.training import TrainingConfig, TrainingResult, train_autoencoder  # noqa: E402


def train_from_parameters(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: dict,
    progress_label: str | None = None,
) -> tuple[TrainingResult, ModelConfig]:
    """Train from a ``training`` parameters block (its ``model`` entry is the
    architecture), logging each epoch to the active MLflow run with a progress bar."""
    settings = dict(training)
    model_config = ModelConfig(n_items=train.shape[1], **settings.pop("model"))
    config = TrainingConfig(**settings)
    result = train_autoencoder(
        model_config,
        train,
        validation_fold_in,
        validation_target,
        config,
        callbacks=(
            MlflowEpochLogger(),
            EpochProgressBar(config.epochs, progress_label or model_config.kind),
        ),
    )
    return result, model_config


def train_recommender(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: dict,
    dataset: dict,
) -> dict:
    result, model_config = train_from_parameters(
        train, validation_fold_in, validation_target, training
    )
    config = result.config
    return {
        "weights": result.model.state_dict(),
        "model_config": model_config.to_dict(),
        "history": pd.DataFrame(result.history),
        "run_tags": {
            "dataset": dataset["name"],
            "device": result.device,
            "model": model_config.kind,
        },
        "summary": {
            "best_epoch": result.best_epoch,
            f"best_val_ndcg_at_{config.validation_k}": result.best_validation_ndcg,
            "train_seconds": result.seconds,
            "device": result.device,
            "batch_size": config.batch_size,
        },
    }


def plot_training_curves(history: pd.DataFrame) -> plt.Figure:
    validation_column = next(c for c in history.columns if c.startswith("val_ndcg_at_"))
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
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
