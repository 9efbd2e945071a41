import pandas as pd
import scipy.sparse as sp

from vaeops.jobs.evaluation import evaluation_run
from vaeops.recommenders.settings import EvaluationParameters


def evaluate_on_test(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    user_map: pd.DataFrame,
    evaluation: EvaluationParameters,
) -> dict:
    return evaluation_run(
        weights, model_config, train, test_fold_in, test_target, user_map, evaluation
    )
