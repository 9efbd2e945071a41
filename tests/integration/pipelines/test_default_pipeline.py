"""The README's `kedro run` on real MovieLens 100K, shortened to a few epochs."""

import json
import os
import re
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from kedro.framework.project import pipelines

from tests.conftest import REPO_ROOT
from tests.helpers.mlflow_store import fresh_sqlite_store
from vaeops.recommenders.retraining import interactions_fingerprint

REQUIRED_TEST_METRICS = ("test/ndcg_at_100", "test/recall_at_20", "test/recall_at_50")


def readme_metric_names() -> list[str]:
    """The metric names the README's MLflow section promises a run logs."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## See and compare runs in MLflow", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`((?:train|val|test|popularity|latent)/[a-z_0-9]+)`", section)


@pytest.mark.e2e
def test_default_pipeline_logs_one_complete_mlflow_run(run_kedro, kedro_project, ml100k_dir):
    run_kedro(dataset={"path": str(ml100k_dir)}, training={"epochs": 25})

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("vaeops")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, "one kedro run must be one MLflow run"
    run = runs[0]
    metrics = run.data.metrics
    for key in REQUIRED_TEST_METRICS:
        assert key in metrics
        assert key.replace("test/", "popularity/") in metrics
    assert metrics["test/ndcg_at_100"] > metrics["popularity/ndcg_at_100"]

    history = client.get_metric_history(run.info.run_id, "val/ndcg_at_100")
    assert [point.step for point in history] == list(range(1, 26))
    for key in ("train/loss", "train/kl", "train/beta"):
        assert len(client.get_metric_history(run.info.run_id, key)) == 25

    assert run.data.params["training.epochs"] == "25"
    assert run.data.params["training.anneal_cap"] == "0.2"
    assert run.data.tags["dataset"] == "ml-100k"
    assert run.data.tags["device"] == "cpu"

    # Every metric the README names is in the run (it names nine).
    documented = readme_metric_names()
    assert len(documented) >= 9
    assert set(documented) <= set(metrics)
    best = client.get_metric_history(run.info.run_id, "val/best_ndcg_at_100")
    assert [point.value for point in best] == pytest.approx(
        pd.Series([point.value for point in history]).cummax().tolist()
    )

    # A run the MLflow UI can find: named, described, with its data and no Kedro internals.
    assert run.info.run_name == "training · multvae · ml-100k"
    description = run.data.tags["mlflow.note.content"]
    assert "- **ingestion**: Obtain the interaction log" in description
    assert "`training.epochs=25`" in description
    assert "mlflow.note.content" in experiment.tags
    assert not {"runner", "run_id"} & set(run.data.tags)
    assert not [value for value in run.data.tags.values() if " object at 0x" in value]
    [logged] = run.inputs.dataset_inputs
    interactions = pd.read_parquet(kedro_project / "data/02_intermediate/interactions.parquet")
    fingerprint = interactions_fingerprint(interactions)
    assert logged.dataset.name == "ml-100k"
    assert logged.dataset.digest == fingerprint[:36]
    assert json.loads(logged.dataset.source) == {"uri": ml100k_dir.resolve().as_uri()}
    assert {tag.key: tag.value for tag in logged.tags} == {
        "dataset_fingerprint": fingerprint,
        "mlflow.data.context": "ingested",
    }

    artifacts = {
        f"{folder}/{item.path.split('/')[-1]}"
        for folder in ("model", "training", "evaluation")
        for item in client.list_artifacts(run.info.run_id, folder)
    }
    assert {
        "model/model_weights.pt",
        "model/model_config.json",
        "training/training_curves.png",
        "evaluation/evaluation_report.json",
        "evaluation/evaluation_report.md",
        "evaluation/per_user_metrics.parquet",
    } <= artifacts

    report = json.loads((kedro_project / "data/08_reporting/evaluation_report.json").read_text())
    assert report["models"]["multvae"]["ndcg_at_100"] == pytest.approx(metrics["test/ndcg_at_100"])
    per_user = pd.read_parquet(kedro_project / "data/08_reporting/per_user_metrics.parquet")
    assert set(per_user["model"]) == {"multvae", "popularity"}
    assert per_user.groupby("model")["ndcg_at_100"].mean()["multvae"] == pytest.approx(
        metrics["test/ndcg_at_100"], abs=1e-6
    )


# A log record of conf/logging.yml's plain format: "2026-12-07 21:06:51,353 - name - INFO - ".
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - [\w.]+ - [A-Z]+ - ")
# What MLflow prints itself (not through logging) when it registers a model.
MLFLOW_PRINTS = re.compile(r"(Successfully registered model|Created version) '")


@pytest.mark.e2e
def test_a_redirected_run_log_has_no_warning_and_no_wrapped_line(kedro_project, ml100k_dir):
    """`make run > log`, as cron or CI runs it: stdout and stderr go to a file."""
    fresh_sqlite_store(kedro_project / "mlflow.db")
    # As a plain shell would run it: no terminal width, nothing forcing rich's layout.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "KEDRO_LOGGING_CONFIG")
    }
    log_path = kedro_project / "run.log"
    with log_path.open("w") as log:
        finished = subprocess.run(
            [sys.executable, "-m", "kedro", "run"]
            + ["--params", f"dataset.path={ml100k_dir},training.epochs=3"],
            cwd=kedro_project,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=600,
        )
    lines = log_path.read_text().splitlines()
    assert finished.returncode == 0, "\n".join(lines)

    assert [line for line in lines if "WARNING" in line or "Warning" in line] == []
    assert [line for line in lines if "\x1b[" in line] == [], "no colour codes in a file"
    # Every line up to the summary is one whole log record (or one of MLflow's prints):
    # none carries on a record broken across lines, none is padded out to a width.
    summary = next(i for i, line in enumerate(lines) if line.startswith("training · "))
    assert summary > 0
    strays = [
        line
        for line in lines[:summary]
        if line and not LOG_RECORD.match(line) and not MLFLOW_PRINTS.match(line)
    ]
    assert strays == []
    assert [line for line in lines if line != line.rstrip()] == []
    assert max(len(line) for line in lines) > 120, "long records stay on one line"
    # One progress line per node, each name whole.
    names = [node.name for node in pipelines["__default__"].nodes]
    progress = [line.split(" - INFO - ", 1)[1] for line in lines if " - INFO - node " in line]
    assert [line.split(": ", 1)[0] for line in progress] == [
        f"node {k} of {len(names)}" for k in range(1, len(names) + 1)
    ]
    assert sorted(line.split(": ", 1)[1] for line in progress) == sorted(names)
