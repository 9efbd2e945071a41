"""The benchmark's report in Markdown: the protocol, the comparison table (published rows
marked), each model's choices, and the paired comparisons on the headline metric."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vaeops.recommenders.benchmark import BASELINE_TO_BEAT
from vaeops.statistics.paired_users import ComparisonResult


def benchmark_markdown(report: dict[str, Any]) -> str:
    """The report of ``benchmark_report`` as Markdown."""
    comparisons = {
        other: _comparison(probabilities, report["reference"], other)
        for other, probabilities in report["comparisons"].items()
    }
    against_ease = {
        name: _comparison(probabilities, name, BASELINE_TO_BEAT)
        for name, probabilities in report[f"against_{BASELINE_TO_BEAT}"].items()
    }
    return _markdown(report, comparisons, against_ease)


def _comparison(probabilities: dict[str, Any], a: str, b: str) -> ComparisonResult:
    """A comparison of ``a`` with ``b`` back from the report's probabilities."""
    return ComparisonResult(
        p_a_better=probabilities[f"p_{a}_better"],
        p_rope=probabilities["p_rope"],
        p_b_better=probabilities[f"p_{b}_better"],
        mean_difference=probabilities["mean_difference"],
        rope=probabilities["rope"],
        n_users=probabilities["n_users"],
        method=probabilities["method"],
    )


def _markdown(report: dict, comparisons: dict, against_ease: dict) -> str:
    reference, metric = report["reference"], report["headline_metric"]
    columns = report["table_metrics"]
    lines = [
        "# Benchmark of every model",
        "",
        report["protocol"]["description"],
        "",
        f"Test users with held-out items: {report['n_evaluated_users']}. "
        + report["recall_definitions"],
        "",
        _models_table(report["models"], report["published"], columns),
    ]
    if report["published"]:
        lines += [
            "",
            f"Published rows were not measured here; source: {report['published']['source']}.",
        ]
    lines += [
        "",
        "What each model chose on the validation users (train seconds include every fit: "
        "grid values, the choosing run and any refit):",
        "",
        _choices_table(report["choices"]),
    ]
    sections = [
        (comparisons, f"{reference} against each model", "other model", reference, "other"),
        (
            against_ease,
            f"Each autoencoder against {BASELINE_TO_BEAT}",
            "autoencoder",
            "model",
            BASELINE_TO_BEAT,
        ),
    ]
    best = report["best_autoencoder"]
    if best is not None:
        verdict = against_ease[best]
        lines += [
            "",
            f"The autoencoder with the best validation score is **{best}**: "
            f"P({best} better than {BASELINE_TO_BEAT}) = {verdict.p_a_better:.3f}, "
            f"P(equivalent) = {verdict.p_rope:.3f}, "
            f"P({BASELINE_TO_BEAT} better) = {verdict.p_b_better:.3f} on test "
            f"{columns[metric]} (ROPE ±{verdict.rope}).",
        ]
    for rows, title, index_name, a, b in sections:
        if rows:
            any_comparison = next(iter(rows.values()))
            lines += [
                "",
                f"{title} on test {columns[metric]}, paired by user "
                f"(ROPE ±{any_comparison.rope}; method: {any_comparison.method}):",
                "",
                _comparison_table(rows, index_name, a, b),
            ]
    return "\n".join(lines) + "\n"


def _comparison_table(rows: dict[str, ComparisonResult], index_name: str, a: str, b: str) -> str:
    table = pd.DataFrame(
        {
            f"P({a} better)": [c.p_a_better for c in rows.values()],
            "P(equivalent)": [c.p_rope for c in rows.values()],
            f"P({b} better)": [c.p_b_better for c in rows.values()],
            f"mean difference ({a} − {b})": [c.mean_difference for c in rows.values()],
        },
        index=pd.Index(list(rows), name=index_name),
    )
    return table.to_markdown(floatfmt=("", ".3f", ".3f", ".3f", "+.4f"))


def _choices_table(choices: dict[str, dict]) -> str:
    """A baseline's values chosen from its grid; an autoencoder's kept and stopped epochs
    and the precision it trained in; a model with nothing to choose shows —."""
    rows = {
        name: {
            "chosen": ", ".join(f"{key}={value:g}" for key, value in choice["chosen"].items())
            if "chosen" in choice
            else None,
            "kept epoch": choice.get("kept_epoch"),
            "stopped epoch": choice.get("stopped_epoch"),
            "planned epochs": choice.get("planned_epochs"),
            "validation": (
                f"{choice['validation_metric'].replace('ndcg_at_', 'NDCG@')} "
                f"{choice['validation_score']:.4f}"
                if choice
                else None
            ),
            "precision": choice.get("precision"),
        }
        for name, choice in choices.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index", dtype=object).rename_axis("model")
    return table.where(table.notna(), None).to_markdown(missingval="—")


def _models_table(models: dict, published: dict | None, columns: dict[str, str]) -> str:
    """Measured rows, then published rows marked as such; a value not reported shows as —."""
    rows = dict(models)
    for name, values in (published or {"models": {}})["models"].items():
        rows[f"{name} (**published**)"] = values
    table = (
        pd.DataFrame.from_dict(rows, orient="index")
        .reindex(columns=[*columns, "train_seconds"])
        .rename(columns={**columns, "train_seconds": "train seconds"})
        .rename_axis("model")
    )
    # None, not NaN, is what tabulate prints as its missing value.
    table = table.astype(object).where(table.notna(), None)
    formats = ("", *[".4f"] * len(columns), ".1f")
    return table.to_markdown(floatfmt=formats, missingval="—")
