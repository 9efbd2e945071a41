"""Training blocks changed by dotted names, and the tuned-vs-default comparison."""

import pytest
import yaml

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.settings import shipped, training_settings
from tests.unit.recommenders.test_latent import random_clicks
from vaeops.data.settings import DatasetParameters, GivenSplitDatasetParameters
from vaeops.recommenders.configurations import (
    TRAINED_BLOCK,
    best_parameters_file,
    compare_on_test,
    comparison_metrics,
    current_values,
    data_signature,
    study_name,
    tuned_block,
    with_values,
)
from vaeops.reports.configurations import comparison_report

TRAINING = {
    "model": {"kind": "multvae", "hidden_dims": [600, 600], "latent_dim": 200},
    "epochs": 200,
    "anneal_cap": 0.2,
    "validation_k": 100,
}


def test_a_trials_suggestions_become_a_training_block_that_the_best_params_file_holds():
    suggested = {"anneal_cap": 0.5, "model.latent_dim": 50, "model.hidden_dims": 300}
    trained = with_values(TRAINING, suggested)
    assert trained == {
        "model": {"kind": "multvae", "hidden_dims": [300, 300], "latent_dim": 50},
        "epochs": 200,
        "anneal_cap": 0.5,
        "validation_k": 100,
    }
    assert TRAINING["model"]["hidden_dims"] == [600, 600], "the given block is left as it was"
    best_trial_attrs = {TRAINED_BLOCK: trained, "mlflow_run_id": "abc"}
    # Only the searched settings, as trained (a width as the list of layers), so the
    # block's epochs or other --params of a small study stay out of the file.
    best = best_parameters_file(best_trial_attrs, suggested)
    assert best == {
        "overrides": {
            "training": {"anneal_cap": 0.5, "model": {"latent_dim": 50, "hidden_dims": [300, 300]}}
        }
    }
    shorter = {**TRAINING, "epochs": 15, "model": {**TRAINING["model"], "dropout": 0.3}}
    assert tuned_block(shorter, best) == {
        **trained,
        "epochs": 15,
        "model": {**trained["model"], "dropout": 0.3},
    }
    with pytest.raises(ValueError, match="records no training block.*tuning.study.name"):
        best_parameters_file({"mlflow_run_id": "abc"}, suggested)


def test_each_dataset_has_its_own_study_and_a_custom_file_is_named_by_its_stem():
    dataset = DatasetParameters.model_validate(shipped()["dataset"])
    assert study_name("multvae", dataset) == "multvae-ml-100k"
    custom = dataset.model_copy(update={"name": "custom", "path": "logs/clicks-2026.parquet"})
    assert study_name("recvae", custom) == "recvae-clicks-2026"
    given = {"name": "gowalla", "path": "../data/gowalla", "raw_dir": "data/01_raw"}
    assert study_name("multvae", GivenSplitDatasetParameters(**given)) == "multvae-gowalla"
    lightgcn = GivenSplitDatasetParameters(**{**given, "name": "lightgcn", "path": "../yelp2018"})
    assert study_name("multvae", lightgcn) == "multvae-yelp2018"


def test_the_data_signature_counts_users_items_and_interactions():
    train = random_clicks(40, 30, 6)
    fold_in, target = random_clicks(8, 30, 4, seed=1), random_clicks(8, 30, 1, seed=2)
    assert data_signature(train, fold_in, target) == {
        "train_users": 40,
        "items": 30,
        "train_interactions": 240,
        "validation_users": 8,
        "validation_interactions": 40,
    }


def test_current_values_read_dotted_names_and_a_shared_layer_width():
    names = ["anneal_cap", "model.latent_dim", "model.hidden_dims"]
    assert current_values(TRAINING, names) == {
        "anneal_cap": 0.2,
        "model.latent_dim": 200,
        "model.hidden_dims": 600,
    }
    uneven = with_values(TRAINING, {})
    uneven["model"]["hidden_dims"] = [600, 300]
    assert current_values(uneven, ["model.hidden_dims"]) == {"model.hidden_dims": None}


def test_a_name_outside_the_training_block_says_which_and_how_to_fix_it():
    with pytest.raises(ValueError, match="'batchsize' names no training parameter"):
        with_values(TRAINING, {"batchsize": 10})
    with pytest.raises(ValueError, match="'model.depth' names no training parameter"):
        current_values(TRAINING, ["model.depth"])
    with pytest.raises(ValueError, match="'anneal_cap.low' names no training parameter"):
        current_values(TRAINING, ["anneal_cap.low"])
    shallow = {**TRAINING, "model": {**TRAINING["model"], "hidden_dims": []}}
    with pytest.raises(ValueError, match="no hidden layer"):
        current_values(shallow, ["model.hidden_dims"])


SCORES = {
    "default": {"val/ndcg_at_100": 0.40, "test/ndcg_at_100": 0.42, "test/recall_at_20": 0.30},
    "tuned": {"val/ndcg_at_100": 0.45, "test/ndcg_at_100": 0.41, "test/recall_at_20": 0.30},
}


def test_comparison_report_tabulates_scores_and_says_which_is_higher():
    report = comparison_report(SCORES, {"overrides": {"training": {"anneal_cap": 0.3}}})
    [rows] = markdown_tables(report)
    assert rows == {
        "configuration": ["val/ndcg_at_100", "test/ndcg_at_100", "test/recall_at_20"],
        "default": ["0.4000", "0.4200", "0.3000"],
        "tuned": ["0.4500", "0.4100", "0.3000"],
    }
    assert "- val/ndcg_at_100: tuned 0.4500 is higher than default 0.4000 (+0.0500)." in report
    assert "- test/ndcg_at_100: tuned 0.4100 is lower than default 0.4200 (-0.0100)." in report
    assert "recall_at_20: tuned" not in report, "verdicts are for NDCG only"
    tuned_yaml = report.split("```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(tuned_yaml) == {"overrides": {"training": {"anneal_cap": 0.3}}}
    assert comparison_metrics(SCORES)["tuned/test/ndcg_at_100"] == {"value": 0.41, "step": 0}
    assert len(comparison_metrics(SCORES)) == 6


def test_the_same_block_under_two_names_scores_the_same():
    clicks = random_clicks(40, 30, 6)
    training = training_settings(
        {"hidden_dims": [8], "latent_dim": 4},
        epochs=2,
        batch_size=20,
        validation_k=5,
        device="cpu",
    )
    labels = []

    def progress(epochs, label):
        labels.append((epochs, label))
        return lambda record: None

    scores = compare_on_test(
        {"default": training, "tuned": training},
        clicks,
        clicks,
        clicks,
        clicks,
        clicks,
        ks=[5],
        batch_size=20,
        device="cpu",
        progress=progress,
    )
    assert labels == [(2, "retrain default"), (2, "retrain tuned")]
    assert scores["default"] == scores["tuned"], "the seed makes each training the same"
    assert {"val/ndcg_at_5", "test/ndcg_at_5"} <= set(scores["default"])
