"""The tables of timings and scores that the docs show, printed from a measurement
record: the JSON reports a run wrote, with its command, machine, date and commit
(docs/results/<date>-<name>.json, written by ``python -m vaeops.tools.docs_tables
record``). Printed, never typed, so a figure in the docs is the one measured."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

# The columns of a score table: metric key -> heading.
SCORE_COLUMNS = {
    "ndcg_at_100": "NDCG@100",
    "recall_at_20": "Recall@20",
    "recall_at_50": "Recall@50",
    "ndcg_at_20": "NDCG@20",
}


def duration(seconds: float) -> str:
    """``2 min 30 s`` or ``45.0 s``, as the run summary and the docs say it."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def provenance(record: Mapping[str, Any]) -> str:
    """One sentence: the command, how long it took, where, when and at which commit."""
    machine = record["machine"]
    return (
        f"`{record['command']}` took {duration(record['wall_seconds'])} "
        f"({record['wall_source']}) on {machine['cpu']}, {machine['cores']} cores, "
        f"{record['precision']}, {record['date']}, commit `{record['git_commit'][:7]}`."
    )


def default_run(record: Mapping[str, Any]) -> str:
    """The default run's test scores beside popularity, its kept epoch and provenance."""
    models = record["reports"]["evaluation_report.json"]["models"]
    training = record["reports"]["training_summary.json"]
    table = _score_table({name: models[name] for name in models})
    return "\n".join(
        [
            table,
            "",
            f"Mult-VAE kept epoch {training['best_epoch']} and stopped after epoch "
            f"{training['stopped_epoch']}; "
            f"{record['reports']['evaluation_report.json']['n_evaluated_users']} test users. "
            + provenance(record),
        ]
    )


def default_run_time(record: Mapping[str, Any]) -> str:
    """The default run's duration, for the README's Quick start."""
    return f"The default run: {provenance(record)}"


def default_run_training(record: Mapping[str, Any]) -> str:
    """How long the default run's training took: what a full-length tuning trial costs."""
    training = record["reports"]["training_summary.json"]
    return (
        f"the default run's training ({training['stopped_epoch']} epochs, early stopping) "
        f"took {duration(training['train_seconds'])} of its whole; {provenance(record)}"
    )


def benchmark(record: Mapping[str, Any]) -> str:
    """Every model's test scores, what validation chose for it, its training seconds."""
    report = record["reports"]["benchmark_report.json"]
    table = pd.DataFrame(
        {
            "model": name,
            "chosen on validation": _choice(report["choices"].get(name, {})),
            **{heading: f"{scores[metric]:.4f}" for metric, heading in SCORE_COLUMNS.items()},
            "train s": f"{scores['train_seconds']:.1f}",
        }
        for name, scores in report["models"].items()
    )
    return "\n".join(
        [
            table.to_markdown(
                index=False, colalign=("left", "left") + ("right",) * 5, disable_numparse=True
            ),
            "",
            f"{report['n_evaluated_users']} test users. " + _against_ease(report),
            "",
            provenance(record),
        ]
    )


def _against_ease(report: Mapping[str, Any]) -> str:
    """The best autoencoder on validation against EASE, paired by user on test."""
    best = report["best_autoencoder"]
    if best is None or best not in report.get("against_ease", {}):
        return "No autoencoder was compared with EASE."
    verdict = report["against_ease"][best]
    return (
        f"{best}, the best autoencoder on validation, against EASE on test "
        f"{SCORE_COLUMNS[report['headline_metric']]}: P({best} better) "
        f"{verdict[f'p_{best}_better']:.3f}, P(equivalent) {verdict['p_rope']:.3f}, "
        f"P(EASE better) {verdict['p_ease_better']:.3f}, mean difference "
        f"{verdict['mean_difference']:+.4f} (Bayesian bootstrap, ROPE ±{verdict['rope']})."
    )


def _choice(choice: Mapping[str, Any]) -> str:
    if "kept_epoch" in choice:
        return f"epoch {choice['kept_epoch']} (stopped at {choice['stopped_epoch']})"
    if "chosen" in choice:
        return ", ".join(f"{key} = {value:g}" for key, value in choice["chosen"].items())
    return "—"


def _score_table(models: Mapping[str, Mapping[str, float]]) -> str:
    table = pd.DataFrame(
        {"model": name, **{heading: scores[metric] for metric, heading in SCORE_COLUMNS.items()}}
        for name, scores in models.items()
    )
    return table.to_markdown(index=False, floatfmt=".4f")


# What a generated region may print: ``<!-- generated: <record> <table> -->``.
TABLES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "default-run": default_run,
    "default-run-time": default_run_time,
    "default-run-training": default_run_training,
    "benchmark": benchmark,
}
