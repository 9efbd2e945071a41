"""`mlflow models serve -m models:/<name>@champion` answers; bad requests get 400."""

import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import pytest

from tests.helpers.data_settings import preprocessing
from tests.helpers.mlflow_store import tracking_into
from tests.helpers.model_server import free_port, post, scoring_server
from tests.helpers.settings import training_settings
from vaeops.adapters.mlflow.registry import CHAMPION, ModelRegistry, TrainedRecommender
from vaeops.data.splits import liang_split
from vaeops.recommenders.models import saved_config
from vaeops.recommenders.retraining import ServingParameters
from vaeops.recommenders.training import train_autoencoder

MODEL = "vaeops-multvae-ml-100k"
STAR_WARS, EMPIRE, JEDI = 50, 172, 181  # MovieLens 100K item ids


@pytest.fixture(scope="module")
def champion(ml100k_interactions, tmp_path_factory) -> tuple[str, list[int]]:
    """A small Mult-VAE trained on MovieLens 100K, registered as champion; the store's URI
    and the model's item catalogue."""
    folder = tmp_path_factory.mktemp("served")
    split = liang_split(ml100k_interactions, preprocessing())
    config = training_settings(
        {"hidden_dims": [64], "latent_dim": 16}, epochs=2, batch_size=100, device="cpu"
    )
    result = train_autoencoder(
        config, split.train, split.validation_fold_in, split.validation_target
    )
    trained = TrainedRecommender(
        result.model.state_dict(),
        saved_config(result.model),
        split.item_map,
        split.train,
        split.user_map,
    )
    with tracking_into(folder) as client, mlflow.start_run():
        ModelRegistry(MODEL).register(
            trained,
            tags={"dataset": "ml-100k"},
            serving=ServingParameters(
                default_k=10, max_k=100, max_histories=50, max_history_length=2000
            ),
            aliases=(CHAMPION,),
        )
        uri = client.tracking_uri
    return uri, trained.item_ids().tolist()


@pytest.fixture(scope="module")
def server(champion, tmp_path_factory):
    """The real scoring server on loopback, stopped (with its workers) after the tests."""
    uri, _ = champion
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)  # the server runs `uvicorn` from PATH
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": f"{venv_bin}:{os.environ['PATH']}",
    }
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{MODEL}@{CHAMPION}",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with scoring_server(command, port, log_path, env) as url:
        yield url


def test_the_served_champion_answers_valid_unknown_empty_and_malformed_requests(server):
    invocations = f"{server}/invocations"

    status, body = post(
        invocations, {"dataframe_records": [{"history": [STAR_WARS, EMPIRE, JEDI]}]}
    )
    assert status == 200
    (answer,) = body["predictions"]
    assert len(answer["items"]) == 10 and len(answer["scores"]) == 10
    assert not {STAR_WARS, EMPIRE, JEDI} & set(answer["items"])
    assert answer["scores"] == sorted(answer["scores"], reverse=True)
    assert answer["fallback"] is False and answer["n_unknown_items"] == 0
    assert answer["reason"] is None

    status, body = post(
        invocations,
        {
            "dataframe_records": [
                {"history": [STAR_WARS, 99999, 123456], "k": 5},
                {"history": []},
                {"history": [99999]},
            ]
        },
    )
    assert status == 200
    unknown, empty, only_unknown = body["predictions"]
    assert (
        unknown["n_unknown_items"] == 2 and not unknown["fallback"] and len(unknown["items"]) == 5
    )
    assert empty["fallback"] is True and len(empty["items"]) == 10
    assert empty["reason"] == "empty history: most popular items"
    assert only_unknown["fallback"] is True and only_unknown["n_unknown_items"] == 1
    assert only_unknown["items"] == empty["items"]
    assert only_unknown["reason"] == "no history item is known to the model: most popular items"

    malformed = [
        (
            {"dataframe_records": [{"history": [STAR_WARS], "k": 1000}]},
            "k must be an integer from 1 to 100",
        ),
        ({"dataframe_records": [{"history": [STAR_WARS], "k": "ten"}]}, "k='ten' is invalid"),
        ({"dataframe_records": [{"k": 5}]}, "missing inputs ['history']"),
        ({"dataframe_records": [{"history": "50,172"}]}, "history"),
        ({"dataframe_records": [{"history": ["Star Wars"]}]}, "history"),
        ({"dataframe_records": [{"history": [STAR_WARS], "exclude_seen": "no"}]}, "exclude_seen"),
        (b"{not json", "valid JSON"),
        (
            {"dataframe_records": [{"history": [STAR_WARS]}] * 51},
            "the request holds 51 histories; at most 50 are answered per request",
        ),
        (
            {"dataframe_records": [{"history": [STAR_WARS] * 2001}]},
            "request 0: the history holds 2001 items; at most 2000 are accepted",
        ),
    ]
    for payload, message in malformed:
        status, body = post(invocations, payload)
        assert status == 400, (payload, body)
        assert message in body["message"], (payload, body["message"])

    status, body = post(invocations, {"dataframe_records": [{"history": [STAR_WARS], "k": 3}]})
    assert status == 200 and len(body["predictions"][0]["items"]) == 3  # still serving


def test_a_history_of_the_whole_catalogue_gets_no_items_and_the_reason(server, champion):
    _, catalogue = champion
    status, body = post(f"{server}/invocations", {"dataframe_records": [{"history": catalogue}]})
    assert status == 200
    (answer,) = body["predictions"]
    assert answer["items"] == [] and answer["fallback"] is False
    assert answer["reason"] == "the history covers the whole catalogue: nothing left to recommend"


def test_a_request_without_content_type_gets_mlflows_500_as_docs_serving_says(server):
    """vaeops cannot reach this: MLflow's scoring server fails on the missing header
    before the model is called. docs/serving.md says so and shows the proxy that
    answers 415; when this fails, MLflow has fixed it and the paragraph can go."""
    body = json.dumps({"dataframe_records": [{"history": [STAR_WARS]}]})
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(server).netloc, timeout=30)
    connection.request("POST", "/invocations", body)  # urllib would add a Content-Type
    answer = connection.getresponse()
    assert answer.status == 500
    connection.close()
    status, _ = post(f"{server}/invocations", {"dataframe_records": [{"history": [STAR_WARS]}]})
    assert status == 200  # and the server goes on serving
