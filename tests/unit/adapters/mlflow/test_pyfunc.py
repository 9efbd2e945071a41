"""The recommender as an MLflow pyfunc model: log, load back and predict, without pickle."""

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException

from tests.helpers.mlflow_store import tracking_into
from tests.helpers.settings import training_settings
from tests.unit.recommenders.test_serving import COMMUNITY_A, ITEM_IDS, community_clicks, split_rows
from vaeops.adapters.mlflow.pyfunc import log_recommender
from vaeops.recommenders.models import saved_config
from vaeops.recommenders.serving import Recommender, Request
from vaeops.recommenders.training import train_autoencoder


def test_the_model_class_draws_no_mlflow_type_hint_notice():
    # MLflow checks predict's type hints when the class is defined: pd.DataFrame is one
    # it accepts without inferring a signature, so the logged signature stays ours.
    finished = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import vaeops.adapters.mlflow.pyfunc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert "type hints" not in finished.stdout + finished.stderr


@pytest.fixture
def tracking_store(tmp_path):
    with tracking_into(tmp_path) as client:
        yield client


@pytest.fixture(scope="module")
def trained():
    train = community_clicks(100, seed=0)
    fold_in, target = split_rows(community_clicks(10, seed=1), n_fold_in=4)
    config = training_settings(
        {"hidden_dims": [16], "latent_dim": 4},
        epochs=3,
        batch_size=50,
        validation_k=10,
        device="cpu",
        seed=3,
    )
    result = train_autoencoder(config, train, fold_in, target)
    return train, saved_config(result.model), result.model


def test_a_logged_model_loads_back_without_pickle_and_answers_like_the_core(
    tracking_store, trained
):
    train, config, model = trained
    popularity = np.asarray(train.sum(axis=0)).ravel()
    seen_users = pd.Series([f"user-{row}" for row in range(train.shape[0] + 5)])
    serving = {"default_k": 5, "max_k": 20, "max_histories": 4, "max_history_length": 30}
    with mlflow.start_run():
        info = log_recommender(
            model.state_dict(),
            config,
            pd.Series(ITEM_IDS),
            popularity,
            seen_users,
            serving,
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)

    model_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert not list(model_dir.rglob("*.pkl")), "the model must load without unpickling"
    weights = torch.load(model_dir / "artifacts" / "model_weights.pt", weights_only=True)
    assert set(weights) == set(model.state_dict())
    inputs = {spec.name: repr(spec.type) for spec in loaded.metadata.get_input_schema().inputs}
    assert inputs["history"] == "Array(long)"
    outputs = {spec.name: spec for spec in loaded.metadata.get_output_schema().inputs}
    assert repr(outputs["reason"].type) == "string" and not outputs["reason"].required

    known_user = np.array(ITEM_IDS)[train[0].indices].tolist()  # a training user's own history
    new_user = [COMMUNITY_A[0], COMMUNITY_A[5]]
    requests = pd.DataFrame(
        {
            "history": [known_user, new_user, [COMMUNITY_A[0], 424242, 737373], []],
            "k": [3, None, 2, None],
        }
    )
    answers = loaded.predict(requests)

    core = Recommender(model, ITEM_IDS, popularity, **serving).recommend(
        [Request(known_user, k=3), Request(new_user), Request([COMMUNITY_A[0]], k=2), Request([])]
    )
    assert list(answers.columns) == ["items", "scores", "fallback", "n_unknown_items", "reason"]
    for (_, answer), expected in zip(answers.iterrows(), core, strict=True):
        assert list(answer["items"]) == expected.items
        np.testing.assert_allclose(answer["scores"], expected.scores, rtol=1e-5)
        assert answer["fallback"] == expected.fallback
    assert not set(answers["items"][0]) & set(known_user)
    assert len(answers["items"][1]) == 5  # default k
    assert answers["n_unknown_items"].tolist() == [0, 0, 2, 0]
    assert answers["fallback"].tolist() == [False, False, False, True]
    assert answers["reason"].tolist() == [None, None, None, "empty history: most popular items"]

    assert loaded.unwrap_python_model().seen_users().tolist() == seen_users.tolist()

    with pytest.raises(MlflowException, match="k=21 is invalid") as refused:
        loaded.predict(pd.DataFrame({"history": [[COMMUNITY_A[0]]], "k": [21]}))
    assert refused.value.get_http_status_code() == 400
    with pytest.raises(MlflowException, match="holds 5 histories; at most 4") as refused:
        loaded.predict(pd.DataFrame({"history": [[COMMUNITY_A[0]]] * 5}))
    assert refused.value.get_http_status_code() == 400
