import scipy.sparse as sp

from vaeops.data.settings import CarvedValidationParameters, GivenSplitDatasetParameters
from vaeops.data.splits import read_given_split
from vaeops.jobs.tuning import compare_on_test, tune_hyperparameters
from vaeops.recommenders.benchmark import given_split_data
from vaeops.recommenders.settings import (
    EvaluationParameters,
    TrainingParameters,
    TuningParameters,
)


def carve_for_tuning(
    dataset: GivenSplitDatasetParameters, validation: CarvedValidationParameters
) -> dict[str, sp.csr_matrix]:
    """The five matrices the tuning nodes read, from the benchmark's own carve: the study
    chooses on the carved validation users; the test part is ranked once, at the end,
    with every user's train items as the fold-in. Nothing is refitted."""
    split = read_given_split(dataset)
    data = given_split_data(split.train, split.test_target, validation, refit=False)
    return {
        "train_matrix": data.train,
        "validation_fold_in": data.validation_fold_in,
        "validation_target": data.validation_target,
        "test_fold_in": data.test_fold_in,
        "test_target": data.test_target,
    }


def tune_on_given_split(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: TrainingParameters,
    tuning: TuningParameters,
    dataset: GivenSplitDatasetParameters,
) -> dict:
    """The template's study, on the given split's data source."""
    return tune_hyperparameters(
        train_matrix, validation_fold_in, validation_target, training, tuning, dataset
    )


def compare_on_given_split(  # noqa: PLR0913 (five matrices and the settings)
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    best_params: dict,
    training: TrainingParameters,
    evaluation: EvaluationParameters,
    dataset: GivenSplitDatasetParameters,
) -> dict:
    """The template's comparison, titled with the given split's data source."""
    return compare_on_test(
        train_matrix,
        validation_fold_in,
        validation_target,
        test_fold_in,
        test_target,
        best_params,
        training,
        evaluation,
        dataset,
    )
