"""Node-level checks of the default pipelines, on small inputs."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.settings import training_settings
from tests.helpers.tiny import TINY_TRAINING_PARAMS
from vaeops.data.settings import DatasetParameters
from vaeops.pipelines.evaluation.nodes import evaluate_on_test
from vaeops.pipelines.ingestion.nodes import ingest_interactions
from vaeops.pipelines.training.nodes import train_recommender
from vaeops.recommenders.settings import EvaluationParameters
from vaeops.reports.training import training_curves

DATASET_PARAMS = {
    "name": "custom",
    "path": None,
    "raw_dir": "unused",
    "columns": {"user": "uid", "item": "sku", "rating": "stars", "timestamp": None},
}

CUSTOM = DatasetParameters.model_validate({**DATASET_PARAMS, "path": "clicks.csv"})


def test_ingestion_reads_a_custom_file_with_configured_columns(tmp_path):
    log = tmp_path / "clicks.csv"
    pd.DataFrame({"uid": ["a", "a", "b"], "sku": [10, 11, 10], "stars": [5.0, 4.0, 2.0]}).to_csv(
        log, index=False
    )
    dataset = {**DATASET_PARAMS, "path": str(log), "raw_dir": str(tmp_path)}
    frame = ingest_interactions(DatasetParameters.model_validate(dataset))
    assert list(frame.columns) == ["user", "item", "rating"]
    assert len(frame) == 3


def test_ingestion_rejects_an_unknown_dataset_with_the_valid_names(tmp_path):
    dataset = {**DATASET_PARAMS, "name": "movielens", "raw_dir": str(tmp_path)}
    with pytest.raises(ValidationError, match="ml-100k"):
        ingest_interactions(DatasetParameters.model_validate(dataset))


def community_split():
    rng = np.random.default_rng(0)

    def block(n_users, offset):
        rows = np.repeat(np.arange(n_users), 6)
        cols = np.concatenate(
            [rng.choice(15, 6, replace=False) + (u % 2) * 15 for u in range(n_users)]
        )
        return sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n_users, 30))

    train, held = block(120, 0), block(20, 0)
    target = held.copy().tolil()
    fold_in = held.copy().tolil()
    for r in range(20):
        for c in fold_in.rows[r][:2]:
            fold_in[r, c] = 0
        for c in target.rows[r][2:]:
            target[r, c] = 0
    return train, fold_in.tocsr(), target.tocsr()


TRAINING_PARAMS = training_settings(**{**TINY_TRAINING_PARAMS, "epochs": 3, "batch_size": 40})


def test_training_then_evaluation_nodes_produce_reports_for_both_models():
    train, fold_in, target = community_split()
    trained = train_recommender(train, fold_in, target, TRAINING_PARAMS, CUSTOM, None)
    assert trained["run_tags"] == {"dataset": "custom", "device": "cpu", "model": "multvae"}
    assert len(trained["history"]) == 3
    assert training_curves(trained["history"]).axes

    user_map = pd.DataFrame(
        {"user": [f"u{i}" for i in range(20)], "split": "test", "row": range(20)}
    )
    evaluated = evaluate_on_test(
        trained["weights"],
        trained["model_config"],
        train,
        fold_in,
        target,
        user_map,
        EvaluationParameters(ks=[5, 10], batch_size=7, device="cpu"),
        DatasetParameters.model_validate({**DATASET_PARAMS, "path": "clicks.csv"}),
    )
    assert set(evaluated["metrics"]) == {
        f"{prefix}/{metric}_at_{k}"
        for prefix in ("test", "popularity")
        for metric in ("ndcg", "recall", "uncapped_recall")
        for k in (5, 10)
    }
    assert evaluated["report"]["n_evaluated_users"] == 20
    # The report opens with its title: the data set (a custom file by its name), the run.
    assert evaluated["report_markdown"].splitlines()[0] == (
        "# Evaluation on the test users · clicks.csv"
    )
    assert "MLflow run untracked · `" in evaluated["report_markdown"]
    table = markdown_tables(evaluated["report_markdown"])[0]
    assert list(table) == ["model", "multvae", "popularity"]
    per_user = evaluated["per_user"]
    assert len(per_user) == 40 and per_user["user"].iloc[0] == "u0"
