import pandas as pd
import scipy.sparse as sp

from vaeops.adapters.kedro.checkpoints import checkpointing_from_parameters
from vaeops.jobs.training import train_from_parameters


def train_recommender(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: dict,
    dataset: dict,
    checkpoint: dict | None,
) -> dict:
    """``checkpoint`` None trains without writing a checkpoint."""
    result, model_config = train_from_parameters(
        train,
        validation_fold_in,
        validation_target,
        training,
        checkpointing=(checkpointing_from_parameters(checkpoint) if checkpoint else None),
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
            "stopped_epoch": result.stopped_epoch,
            "precision": result.precision,
            f"best_val_ndcg_at_{config.validation_k}": result.best_validation_ndcg,
            "train_seconds": result.seconds,
            "device": result.device,
            "batch_size": config.batch_size,
        },
    }
