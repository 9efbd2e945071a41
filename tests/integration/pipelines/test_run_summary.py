"""What `kedro run` prints at its end: the README's run, with a tiny model, and the
command it prints serving the model it trained."""

import json
import os

import mlflow
import pytest

from tests.helpers.model_server import free_port, post, scoring_server
from tests.helpers.tiny import TINY_TRAINING_PARAMS
from tests.integration.pipelines.test_retraining import COLUMNS, write_clicks

HEADLINE_METRICS = ("ndcg_at_100", "recall_at_20", "recall_at_50")


@pytest.mark.e2e
def test_default_run_ends_with_its_results_and_where_to_find_them(
    run_kedro, kedro_project, ml100k_dir, capsys, tmp_path
):
    run_kedro(dataset={"path": str(ml100k_dir)}, training={**TINY_TRAINING_PARAMS, "epochs": 2})
    summary = capsys.readouterr().out.split("\ntraining · multvae · ml-100k: finished in ", 1)[1]
    lines = summary.splitlines()

    report = json.loads((kedro_project / "data/08_reporting/evaluation_report.json").read_text())
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")] for line in lines if line[:2] == "| "
    ]
    assert cells[0] == ["model", "NDCG@100", "Recall@20", "Recall@50"]
    assert cells[1:] == [
        [model, *(f"{report['models'][model][name]:.4f}" for name in HEADLINE_METRICS)]
        for model in ("multvae", "popularity")
    ]

    facts = {line[:12].strip(): line[12:] for line in lines if line and line[0] not in "| "}
    training = json.loads(
        (kedro_project / "data/07_model_output/training_summary.json").read_text()
    )
    assert facts["kept epoch"] == f"{training['best_epoch']} of 2"
    assert facts["registered"] == "vaeops-multvae-ml-100k version 1 (champion)"
    assert facts["reports"] == "data/08_reporting/evaluation_report.md"
    assert "            data/08_reporting/latent/traversal.md" in lines

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("vaeops").experiment_id])
    assert facts["MLflow run"] == run.info.run_id
    assert facts["open"].endswith("mlflow ui --backend-store-uri sqlite:///mlflow.db")
    assert facts["then"] == (
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    )
    assert facts["serve"].endswith(
        "mlflow models serve -m models:/vaeops-multvae-ml-100k/1 --env-manager local --port 5001"
    )

    # A custom CSV trained next is a registered model of its own, not version 2 beside
    # MovieLens's champion, and the command its summary prints serves it.
    clicks = write_clicks(kedro_project / "clicks.csv", range(300), seed=0, item_prefix="sku-")
    run_kedro(
        dataset={"name": "custom", "path": clicks, "columns": COLUMNS},
        training={**TINY_TRAINING_PARAMS, "epochs": 2},
    )
    summary = capsys.readouterr().out.split("\ntraining · multvae · clicks.csv: finished in ")[1]
    facts = {line[:12].strip(): line[12:] for line in summary.splitlines() if line[:1].isalpha()}
    assert facts["registered"] == "vaeops-multvae-clicks version 1 (champion)"
    assert {model.name for model in client.search_registered_models()} == {
        "vaeops-multvae-ml-100k",
        "vaeops-multvae-clicks",
    }
    command = facts["serve"]
    assert command.endswith(" -m models:/vaeops-multvae-clicks/1 --env-manager local --port 5001")
    port = free_port()
    with scoring_server(
        ["bash", "-c", command.replace("--port 5001", f"--port {port}")],
        port,
        tmp_path / "server.log",
        dict(os.environ),
        cwd=kedro_project,
    ) as server:
        status, body = post(
            f"{server}/invocations", {"dataframe_records": [{"history": ["sku-1000", "sku-1001"]}]}
        )
    assert status == 200
    (answer,) = body["predictions"]
    assert answer["n_unknown_items"] == 0 and answer["fallback"] is False
    assert len(answer["items"]) == 10 and all(item.startswith("sku-") for item in answer["items"])
