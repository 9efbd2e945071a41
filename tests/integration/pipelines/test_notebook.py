"""`kedro run` logs the latent report to MLflow, and notebooks/explore.ipynb runs on it.

One test covers both because each needs real (short) ML-100K runs, the slow part."""

import json
import shutil

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "explore.ipynb"
LATENT_ARTIFACTS = {
    "latent/user_map_train.png",
    "latent/user_map_test.png",
    "latent/item_neighbours.md",
    "latent/item_neighbours.csv",
    "latent/traversal.md",
    "latent/posterior_kl.png",
    "latent/posterior_health.json",
}


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == [] and cell.execution_count is None, (
            "strip the notebook's outputs before committing: nbstripout notebooks/explore.ipynb"
        )


@pytest.mark.e2e
def test_kedro_runs_log_the_latent_report_and_the_notebook_explores_them(
    run_kedro, kedro_project, ml100k_dir, monkeypatch
):
    dataset = {"path": str(ml100k_dir)}
    # Another model on the same data: a run the notebook must not compare with the others.
    run_kedro(dataset=dataset, training={"epochs": 2, "model": {"kind": "multdae"}})
    run_kedro(dataset=dataset, training={"epochs": 2})
    run_kedro("reporting", dataset=dataset)  # alone, on the saved model
    run_kedro(dataset=dataset, training={"epochs": 2, "total_anneal_steps": 2})

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("vaeops")
    tuned, standalone, default, other_model = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"]
    )
    assert other_model.info.run_name == "training · multdae · ml-100k"
    assert "test/ndcg_at_100" not in standalone.data.metrics
    for run in (default, standalone, tuned):
        artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "latent")}
        assert LATENT_ARTIFACTS <= artifacts
        assert 0 <= run.data.metrics["latent/active_dimensions"] <= 200
    health = json.loads(
        (kedro_project / "data/08_reporting/latent/posterior_health.json").read_text()
    )
    assert tuned.data.metrics["latent/active_dimensions"] == health["active_dimensions"]
    neighbours = (kedro_project / "data/08_reporting/latent/item_neighbours.md").read_text()
    assert "| Star Wars (1977) (" in neighbours, "the most popular ML-100K item, by its title"
    traversal = (kedro_project / "data/08_reporting/latent/traversal.md").read_text()
    assert traversal.count("\n| ") == 1 + 10, "the header, then the top 10"

    (kedro_project / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, kedro_project / "notebooks")
    # As in a user's shell: the notebook must find the project's sqlite:///mlflow.db itself.
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    notebook = nbformat.read(kedro_project / "notebooks" / "explore.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(kedro_project / "notebooks")}},  # as Jupyter starts it
    ).execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    text = "\n".join(
        str(output.get("text", ""))
        + str(output.get("data", {}).get("text/markdown", ""))
        + str(output.get("data", {}).get("text/plain", ""))
        for output in outputs
    )
    assert "4 runs in 'vaeops'" in text and "3 with test metrics" in text
    assert "2 of them named 'training · multvae · ml-100k'" in text
    assert other_model.info.run_id[:8] not in text, "the Mult-DAE run is left out"
    assert "parameter that differs" in text and "training.total_anneal_steps" in text
    assert "latent/active_dimensions" in text
    assert "| Star Wars (1977) (" in text, "the item-neighbour table with MovieLens titles"
    assert "Latent traversal between two test users" in text
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    # training curves, both compared runs' KL plots, then two user maps and the latest KL plot
    assert len(pictures) == 6
    assert not (kedro_project / "notebooks" / "mlflow.db").exists()
