import scipy.sparse as sp

from vaeops.data.settings import CarvedValidationParameters, GivenSplitDatasetParameters
from vaeops.data.splits import read_given_split
from vaeops.recommenders.benchmark import given_split_data


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
