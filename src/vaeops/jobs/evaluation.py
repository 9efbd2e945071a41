"""The trained model scored on the test users beside popularity, with its MLflow metrics."""

from __future__ import annotations

import pandas as pd
import scipy.sparse as sp

from vaeops.adapters.mlflow.tracking import metric_history
from vaeops.data.settings import DatasetParameters
from vaeops.data.splits import held_out_user_ids
from vaeops.jobs.titles import titled_report
from vaeops.recommenders.evaluation import (
    evaluate_beside_popularity,
    named_metrics,
    per_user_frame,
    report,
)
from vaeops.recommenders.settings import EvaluationParameters
from vaeops.reports.evaluation import markdown_table


def evaluation_run(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    user_map: pd.DataFrame,
    evaluation: EvaluationParameters,
    dataset: DatasetParameters,
) -> dict:
    """The metrics (in kedro-mlflow's form), the report, its table and per-user scores."""
    results = evaluate_beside_popularity(
        weights, model_config, train, test_fold_in, test_target, evaluation
    )
    evaluation_report = report(results, test_fold_in.shape[0])
    return {
        "metrics": metric_history(named_metrics(evaluation_report["models"], model_config["kind"])),
        "report": evaluation_report,
        "report_markdown": titled_report(markdown_table(evaluation_report["models"]), dataset),
        "per_user": per_user_frame(results, held_out_user_ids(user_map)),
    }
