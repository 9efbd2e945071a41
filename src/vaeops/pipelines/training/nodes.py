import scipy.sparse as sp

from vaeops.data.settings import DatasetParameters
from vaeops.jobs.training import training_run
from vaeops.recommenders.settings import CheckpointParameters, TrainingParameters


def train_recommender(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: TrainingParameters,
    dataset: DatasetParameters,
    checkpoint: CheckpointParameters | None,
) -> dict:
    """``checkpoint`` None trains without writing a checkpoint."""
    return training_run(
        train, validation_fold_in, validation_target, training, dataset.name, checkpoint
    )
