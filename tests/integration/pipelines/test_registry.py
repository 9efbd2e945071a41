"""Every trained model is registered, tagged with its metrics and data; the first is champion."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.helpers.data_settings import preprocessing
from tests.helpers.mlflow_store import tracking_into
from tests.helpers.settings import shipped, training_settings
from tests.helpers.tiny import TINY_TRAINING_PARAMS
from vaeops.adapters.mlflow.registry import ModelRegistry, contract_facts
from vaeops.data.settings import DatasetParameters
from vaeops.pipelines.evaluation.nodes import evaluate_on_test
from vaeops.pipelines.preprocessing.nodes import split_users
from vaeops.pipelines.registration.nodes import register_trained_model
from vaeops.pipelines.training.nodes import train_recommender
from vaeops.recommenders.retraining import ServingContract, interactions_fingerprint
from vaeops.recommenders.retraining.settings import RegistryParameters, RetrainingParameters
from vaeops.recommenders.settings import EvaluationParameters

PREPROCESSING = preprocessing(min_user_count=5, min_item_count=0, n_heldout_users=0.1)
SHIPPED = shipped()
REGISTRY = RegistryParameters(
    model_name="vaeops-test",
    serving={**SHIPPED["registry"]["serving"], "default_k": 10, "max_k": 50},
)
# A custom file is its path: the version's tags and contract name it.
DATASET = DatasetParameters.model_validate(
    {**SHIPPED["dataset"], "name": "custom", "path": "communities.csv"}
)
RETRAINING = RetrainingParameters.model_validate({**SHIPPED["retraining"], "metric": "ndcg_at_10"})


def community_interactions(users: range, seed: int) -> pd.DataFrame:
    """Each user rates 8 items of one of two 20-item communities with 5 stars."""
    rng = np.random.default_rng(seed)
    items = [rng.choice(20, 8, replace=False) + 20 * (user % 2) + 1000 for user in users]
    return pd.DataFrame(
        {
            "user": np.repeat(list(users), 8),
            "item": np.concatenate(items),
            "rating": 5.0,
        }
    )


def train_and_evaluate(interactions: pd.DataFrame) -> tuple[dict, dict, dict]:
    split = split_users(interactions, PREPROCESSING)
    trained = train_recommender(
        split["train"],
        split["validation_fold_in"],
        split["validation_target"],
        training_settings(**TINY_TRAINING_PARAMS),
        DATASET,
        checkpoint=None,
    )
    evaluated = evaluate_on_test(
        trained["weights"],
        trained["model_config"],
        split["train"],
        split["test_fold_in"],
        split["test_target"],
        split["user_map"],
        EvaluationParameters(ks=[10, 20], batch_size=100, device="cpu"),
        DATASET,
    )
    return split, trained, evaluated


def register(interactions, split, trained, evaluated) -> dict:
    with mlflow.start_run():
        return register_trained_model(
            trained["weights"],
            trained["model_config"],
            split["item_map"],
            split["train"],
            split["user_map"],
            interactions,
            split["summary"],
            evaluated["report"],
            DATASET,
            REGISTRY,
            RETRAINING,
        )


@pytest.fixture
def tracking_store(tmp_path):
    with tracking_into(tmp_path) as client:
        yield client


def test_the_first_registered_model_becomes_champion_and_later_ones_wait(tracking_store):
    client = tracking_store
    interactions = community_interactions(range(300), seed=0)
    split, trained, evaluated = train_and_evaluate(interactions)
    first = register(interactions, split, trained, evaluated)
    assert first["version"] == 1 and first["aliases"] == ["champion"]

    version = client.get_model_version("vaeops-test", "1")
    report = evaluated["report"]["models"]
    assert set(version.tags) == {
        "dataset",
        "dataset_path",
        "dataset_fingerprint",
        "n_users",
        "n_interactions",
        "model_kind",
        "test/ndcg_at_10",
    }
    assert float(version.tags["test/ndcg_at_10"]) == pytest.approx(
        report["multvae"]["ndcg_at_10"], rel=1e-5
    )
    assert (version.tags["dataset"], version.tags["model_kind"]) == ("custom", "multvae")
    assert version.tags["dataset_path"] == "communities.csv"
    assert version.tags["dataset_fingerprint"] == interactions_fingerprint(interactions)
    assert version.tags["n_users"] == "300"
    assert version.tags["n_interactions"] == "2400"
    assert version.description == (
        "multvae trained on communities.csv (n_interactions 2400, n_users 300, "
        f"test/ndcg_at_10 {version.tags['test/ndcg_at_10']}). "
        "Its run holds every metric and parameter."
    )
    assert client.get_registered_model("vaeops-test").description.startswith(
        "vaeops multvae recommenders trained on communities.csv. The alias `champion` marks "
        "the version `mlflow models serve -m models:/vaeops-test@champion` serves"
    )

    served = ModelRegistry("vaeops-test").served(version)
    user_map = split["user_map"]
    trained_or_validated = user_map.loc[user_map["split"] != "test", "user"]
    assert sorted(served.model.seen_users()) == sorted(trained_or_validated)
    assert served.contract == ServingContract(
        dataset="custom",
        dataset_path="communities.csv",
        item_id_type="int",
        request_fields=(
            "history: Array(long)",
            "k: Any (optional)",
            "exclude_seen: Any (optional)",
        ),
        answer_fields=(
            "items: Array(long)",
            "scores: Array(double)",
            "fallback: boolean",
            "n_unknown_items: long",
            "reason: string (optional)",
        ),
    )
    assert (
        served.contract == contract_facts(None, DATASET, split["item_map"])["challenger_contract"]
    )
    assert version.run_id == first["run_id"]
    assert client.get_run(first["run_id"]).info.status == "FINISHED"

    client.update_registered_model("vaeops-test", description="Our shop's recommender.")
    more = pd.concat([interactions, community_interactions(range(300, 330), seed=1)])
    split, trained, evaluated = train_and_evaluate(more)
    second = register(more, split, trained, evaluated)
    assert second["version"] == 2 and second["aliases"] == []
    assert client.get_model_version_by_alias("vaeops-test", "champion").version == 1
    assert client.get_model_version("vaeops-test", "2").tags["n_users"] == "330"
    assert "n_users 330" in client.get_model_version("vaeops-test", "2").description
    # The registered model's description, once the user's own, stays theirs.
    assert client.get_registered_model("vaeops-test").description == "Our shop's recommender."


@pytest.mark.parametrize(
    ("remove", "missing"),
    [
        (
            lambda client: client.delete_registered_model_alias("vaeops-test", "champion"),
            "vaeops-test has no alias 'champion' (it was never set, or was deleted)",
        ),
        (
            lambda client: client.delete_model_version("vaeops-test", "1"),
            "vaeops-test has no alias 'champion' (it was never set, or was deleted)",
        ),
    ],
    ids=["alias deleted", "champion version deleted"],
)
def test_a_missing_champion_means_none_and_the_next_model_is_promoted(
    tracking_store, caplog, remove, missing
):
    """The SQL store answers a missing alias with INVALID_PARAMETER_VALUE; it used to crash."""
    client = tracking_store
    interactions = community_interactions(range(300), seed=0)
    split, trained, evaluated = train_and_evaluate(interactions)
    assert register(interactions, split, trained, evaluated)["aliases"] == ["champion"]
    remove(client)

    assert ModelRegistry("vaeops-test").version("champion") is None
    with caplog.at_level("WARNING", logger="vaeops.adapters.mlflow.registry"):
        again = register(interactions, split, trained, evaluated)

    assert again["version"] == 2 and again["aliases"] == ["champion"]
    assert f"No champion: {missing}; carrying on as with none." in caplog.text
    assert client.get_model_version_by_alias("vaeops-test", "champion").version == 2
