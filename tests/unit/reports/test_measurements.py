"""The docs' tables print the measurement record's figures, with its provenance."""

import json

from tests.conftest import REPO_ROOT
from tests.helpers.markdown_tables import markdown_tables
from vaeops.reports.measurements import benchmark, default_run, duration

RECORDS = REPO_ROOT / "docs" / "results"


def record(name):
    return json.loads((RECORDS / f"2026-12-07-{name}.json").read_text())


def test_the_default_run_table_holds_the_evaluation_report_and_the_kept_epoch():
    run = record("ml100k-default-run")
    markdown = default_run(run)
    [rows] = markdown_tables(markdown)
    models = run["reports"]["evaluation_report.json"]["models"]
    assert list(rows) == ["model", *models]
    assert rows["model"][0] == "NDCG@100"
    assert all(rows[m][0] == f"{models[m]['ndcg_at_100']:.4f}" for m in models)
    training = run["reports"]["training_summary.json"]
    assert f"kept epoch {training['best_epoch']}" in markdown
    assert f"took {duration(run['wall_seconds'])}" in markdown
    assert run["date"] in markdown and run["git_commit"][:7] in markdown


def test_the_benchmark_table_has_every_model_its_choice_and_the_verdict_against_ease():
    run = record("ml100k-benchmark")
    markdown = benchmark(run)
    [rows] = markdown_tables(markdown)
    report = run["reports"]["benchmark_report.json"]
    assert list(rows) == ["model", *report["models"]]
    assert rows["model"][:2] == ["chosen on validation", "NDCG@100"]
    kept = report["choices"]["multvae"]["kept_epoch"]
    assert rows["multvae"][0].startswith(f"epoch {kept} ")
    assert rows["ease"][0] == f"l2 = {report['choices']['ease']['chosen']['l2']:g}"
    assert rows["recvae"][1] == f"{report['models']['recvae']['ndcg_at_100']:.4f}"
    best = report["best_autoencoder"]
    assert f"P({best} better) {report['against_ease'][best][f'p_{best}_better']:.3f}" in markdown


def test_durations_read_as_the_run_summary_says_them():
    assert [duration(s) for s in (45, 150.4, 406.5)] == ["45.0 s", "2 min 30 s", "6 min 46 s"]
