import pandas as pd
import scipy.sparse as sp

from vaeops.adapters.mlflow.tracking import metric_history
from vaeops.data.splits import held_out_user_ids
from vaeops.recommenders.evaluation import (
    evaluate_beside_popularity,
    markdown_table,
    named_metrics,
    per_user_frame,
    report,
)


def evaluate_on_test(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    user_map: pd.DataFrame,
    evaluation: dict,
) -> dict:
    results = evaluate_beside_popularity(
        weights, model_config, train, test_fold_in, test_target, evaluation
    )
    evaluation_report = report(results, test_fold_in.shape[0])
    return {
        "metrics": metric_history(named_metrics(evaluation_report["models"], model_config["kind"])),
        "report": evaluation_report,
        "report_markdown": markdown_table(evaluation_report["models"]),
        "per_user": per_user_frame(results, held_out_user_ids(user_map)),
    }
