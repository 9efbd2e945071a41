"""The end-of-run summary and the names of MLflow runs, from hand-made run outputs."""

import sys
from pathlib import Path

import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node

from vaeops.adapters.kedro.run_summary import (
    RunSummary,
    benchmark_table,
    catalog_filepaths,
    data_sets,
    evaluation_table,
    format_summary,
    kept_epoch,
    mlflow_facts,
    pipeline_purposes,
    read_results,
    registered_fact,
    report_paths,
    run_description,
    run_title,
    serve_fact,
    served_model_uri,
    study_fact,
    verdict_table,
)
from vaeops.adapters.mlflow.lineage import dataset_label, interactions_source

PARAMETERS = {
    "dataset": {"name": "ml-100k", "path": None, "raw_dir": "data/01_raw"},
    "training": {"model": {"kind": "multvae"}, "epochs": 200},
    "benchmark_given_split": {"dataset": {"name": "gowalla", "path": None}},
    "augmentation": {"selected_datasets": ["digits", "wine"]},
}
EVALUATION_MODELS = {
    "multvae": {
        "ndcg_at_100": 0.42494,
        "recall_at_20": 0.36,
        "recall_at_50": 0.47,
        "ndcg_at_20": 0.3,
    },
    "popularity": {
        "ndcg_at_100": 0.25,
        "recall_at_20": 0.2,
        "recall_at_50": 0.3,
        "ndcg_at_20": 0.1,
    },
}


def test_format_summary_puts_the_table_between_the_heading_and_aligned_facts():
    table = pd.DataFrame(
        {"NDCG@100": [0.42494, 0.25]}, index=pd.Index(["multvae", "pop"], name="model")
    )
    summary = RunSummary(
        title="training · multvae · ml-100k",
        seconds=112.4,
        table=table,
        facts=(("kept epoch", "127 of 200"), ("reports", "a.md"), ("", "b.md")),
    )
    assert format_summary(summary) == (
        "training · multvae · ml-100k: finished in 1 min 52 s\n"
        "\n"
        "| model   |   NDCG@100 |\n"
        "|:--------|-----------:|\n"
        "| multvae |     0.4249 |\n"
        "| pop     |     0.2500 |\n"
        "\n"
        "kept epoch  127 of 200\n"
        "reports     a.md\n"
        "            b.md"
    )


def test_format_summary_without_table_or_facts_is_its_heading():
    assert format_summary(RunSummary(title="ingestion · ml-100k", seconds=3.25)) == (
        "ingestion · ml-100k: finished in 3.2 s"
    )


@pytest.mark.parametrize(
    ("pipeline_names", "title"),
    [
        (None, "training · multvae · ml-100k"),
        (["__default__"], "training · multvae · ml-100k"),
        (["benchmark"], "benchmark · ml-100k"),
        (["tuning"], "tuning · multvae · ml-100k"),
        (["ingestion", "preprocessing"], "ingestion+preprocessing · ml-100k"),
        (["benchmark_given_split"], "benchmark_given_split · gowalla"),
        (["augmentation"], "augmentation · digits · wine"),
        (
            ["benchmark", "benchmark_given_split"],
            "benchmark+benchmark_given_split · ml-100k · gowalla",
        ),
    ],
)
def test_run_title_says_pipeline_model_and_data(pipeline_names, title):
    assert run_title(pipeline_names, PARAMETERS) == title


def test_a_custom_dataset_is_named_by_its_file():
    dataset = {"name": "custom", "path": "data/01_raw/clicks.parquet", "raw_dir": "data/01_raw"}
    assert dataset_label(dataset) == "clicks.parquet"
    assert run_title(["training"], {**PARAMETERS, "dataset": dataset}) == (
        "training · multvae · clicks.parquet"
    )


def test_the_data_sets_a_run_reads_are_its_pipelines_each_named_once():
    def names(pipeline_names):
        return [block["name"] for block in data_sets(pipeline_names, PARAMETERS)]

    assert names(None) == ["ml-100k"]
    assert names(["benchmark", "training"]) == ["ml-100k"]
    assert names(["benchmark", "tuning_given_split"]) == ["ml-100k", "gowalla"]
    assert names(["augmentation"]) == ["digits", "wine"]


def test_interactions_source_is_the_given_path_else_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert interactions_source(PARAMETERS["dataset"]) == f"file://{tmp_path}/data/01_raw/ml-100k"
    given = {**PARAMETERS["dataset"], "path": "/srv/data/u.data"}
    assert interactions_source(given) == "file:///srv/data/u.data"


def test_run_description_lists_the_pipelines_and_the_given_parameters():
    description = run_description(
        "training · multvae · ml-100k",
        {"ingestion": "Obtain the log.", "training": "Train it."},
        {"training": {"epochs": 25, "model": {"latent_dim": 8}}},
    )
    assert description == (
        "**training · multvae · ml-100k**\n"
        "\n"
        "- **ingestion**: Obtain the log.\n"
        "- **training**: Train it.\n"
        "\n"
        "Parameters given with `--params`: `training.epochs=25`, `training.model.latent_dim=8`"
    )
    assert "--params" not in run_description("t", {}, {})


def _identity(x):
    return x


def test_pipeline_purposes_are_the_registered_pipelines_that_ran_with_their_docstrings():
    def step(name: str):
        return node(_identity, f"{name}_in", f"{name}_out", name=name)

    registered = {
        "__default__": Pipeline([step("ingest"), step("train")]),
        "ingestion": Pipeline([step("ingest")]),
        "training": Pipeline([step("train")]),
        "benchmark": Pipeline([step("bench")]),
    }
    purposes = pipeline_purposes(["ingest", "train"], registered)
    assert list(purposes) == ["ingestion", "training"]
    assert purposes["ingestion"].startswith("Obtain the interaction log")
    # A docstring's first paragraph, its lines joined.
    augmentation = pipeline_purposes(["a"], {"augmentation": Pipeline([step("a")])})
    assert "\n" not in augmentation["augmentation"]
    assert "improve a classifier" in augmentation["augmentation"]


def test_evaluation_table_has_the_headline_metrics_of_each_model():
    table = evaluation_table(EVALUATION_MODELS)
    assert list(table.columns) == ["NDCG@100", "Recall@20", "Recall@50"]
    assert table.loc["multvae", "NDCG@100"] == 0.42494
    assert list(table.index) == ["multvae", "popularity"]


@pytest.mark.parametrize(
    ("best", "stopped", "text"),
    [
        (127, 147, "127; stopped early after epoch 147 of 200"),
        (190, 200, "190 of 200"),
    ],
)
def test_kept_epoch_says_when_early_stopping_ended_training(best, stopped, text):
    assert kept_epoch(best, stopped, {"epochs": 200}) == text


def test_benchmark_table_ranks_models_on_the_headline_metric():
    report = {
        "headline_metric": "ndcg_at_100",
        "table_metrics": {"ndcg_at_100": "NDCG@100"},
        "models": {
            "popularity": {"ndcg_at_100": 0.25, "train_seconds": 0.1},
            "ease": {"ndcg_at_100": 0.45, "train_seconds": 1.0},
            "multvae": {"ndcg_at_100": 0.42, "train_seconds": 9.0},
        },
    }
    table = benchmark_table(report)
    assert list(table.index) == ["ease", "multvae", "popularity"]
    assert list(table.columns) == ["NDCG@100"]
    assert table["NDCG@100"].tolist() == [0.45, 0.42, 0.25]


def test_verdict_table_counts_the_verdicts_of_each_arm():
    summary = pd.DataFrame(
        {
            "arm": ["none", "noise", "noise", "cvae", "none"],
            "verdict": ["baseline", "helped", "hurt", "helped", "baseline"],
        }
    )
    table = verdict_table(summary)
    assert table.loc["noise"].to_dict() == {"helped": 1, "hurt": 1}
    assert table.loc["cvae"].to_dict() == {"helped": 1, "hurt": 0}
    assert "none" not in table.index


def test_study_and_registration_facts():
    study = {"study_name": "s", "n_trials": 30, "best_value": 0.43219, "best_trial": 7}
    assert study_fact(study) == "s: best validation score 0.4322 (trial 7 of 30)"
    assert study_fact({"study_name": "s", "n_trials": 2}) == "s: no completed trial in 2"
    registered = {"model_name": "m", "version": 3, "aliases": ["champion"]}
    assert registered_fact(registered) == "m version 3 (champion)"
    assert registered_fact({**registered, "aliases": []}) == "m version 3 (no alias)"


def test_read_results_reads_only_what_the_run_produced():
    saved = {
        "evaluation_report": {"models": EVALUATION_MODELS},
        "training_summary": {"best_epoch": 12, "stopped_epoch": 30},
        "registered_model": {"model_name": "m", "version": 1, "aliases": ["champion"]},
        "retraining_decision": {"outcome": "kept_champion", "reason": "no better"},
    }
    loaded = []

    def load(name):
        loaded.append(name)
        return saved[name]

    outputs = {"evaluation_report", "training_summary", "registered_model"}
    table, facts = read_results(outputs, load, PARAMETERS)
    assert list(table.index) == ["multvae", "popularity"]
    assert facts == [
        ("kept epoch", "12; stopped early after epoch 30 of 200"),
        ("registered", "m version 1 (champion)"),
    ]
    assert "retraining_decision" not in loaded
    table, facts = read_results({"retraining_decision"}, load, PARAMETERS)
    assert table is None and facts == [("decision", "kept_champion: no better")]


def test_mlflow_facts_give_the_command_for_a_local_store_and_the_page_of_a_server(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    local = dict(mlflow_facts(f"sqlite:///{tmp_path}/mlflow.db", "1", "abc"))
    assert local["MLflow run"] == "abc"
    mlflow_command = Path(sys.executable).parent / "mlflow"
    assert local["open"] == f"{mlflow_command} ui --backend-store-uri sqlite:///mlflow.db"
    assert local["then"] == "http://127.0.0.1:5000/#/experiments/1/runs/abc"
    server = dict(mlflow_facts("http://mlflow.internal:5000/", "4", "abc"))
    assert server == {
        "MLflow run": "abc",
        "open": "http://mlflow.internal:5000/#/experiments/4/runs/abc",
    }
    label, command = serve_fact("sqlite:///elsewhere/mlflow.db", "models:/m-ml-100k/3")
    assert label == "serve"
    assert command.startswith("MLFLOW_TRACKING_URI=sqlite:///elsewhere/mlflow.db ")
    assert command.endswith(
        "mlflow models serve -m models:/m-ml-100k/3 --env-manager local --port 5001"
    )


def test_the_served_model_is_the_version_registered_or_the_champion_retraining_leaves():
    saved = {
        "registered_model": {"model_name": "m-shop", "version": 3, "model_uri": "models:/m-shop/3"},
        "retraining_decision": {"model_name": "m-ml-100k", "outcome": "kept_champion"},
    }
    assert served_model_uri({"registered_model", "x"}, saved.get) == "models:/m-shop/3"
    assert served_model_uri({"retraining_decision"}, saved.get) == "models:/m-ml-100k@champion"
    assert served_model_uri({"benchmark_report"}, saved.get) is None


def test_report_paths_are_the_markdown_outputs_relative_to_the_project(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    conf_catalog = {
        "evaluation_report_markdown": {
            "type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset",
            "dataset": {"type": "text.TextDataset", "filepath": f"{tmp_path}/data/r.md"},
        },
        "evaluation_report": {"type": "json.JSONDataset", "filepath": f"{tmp_path}/data/r.json"},
        "other_report": {"type": "text.TextDataset", "filepath": "/elsewhere/o.md"},
        "test_metrics": {"type": "kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset"},
    }
    filepaths = catalog_filepaths(conf_catalog)
    assert filepaths == {
        "evaluation_report_markdown": f"{tmp_path}/data/r.md",
        "evaluation_report": f"{tmp_path}/data/r.json",
        "other_report": "/elsewhere/o.md",
    }
    outputs = {"evaluation_report_markdown", "evaluation_report", "other_report", "test_metrics"}
    assert report_paths(outputs, filepaths) == ["/elsewhere/o.md", "data/r.md"]
