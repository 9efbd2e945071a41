import logging
import time
from collections.abc import Mapping
from typing import Any

import scipy.sparse as sp
import torch

from vaeops.recommenders.baselines import EASE, ItemKNN, MatrixFactorization, Popularity
from vaeops.statistics.paired_users import compare_paired
from vaeops.errors import DataError
from vaeops.integrations.benchmark_tracking import log_model_metrics, model_run
from vaeops.recommenders.metrics import Evaluation, evaluate, metric_names, scipy_scorer
from vaeops.pipelines.training.nodes import train_from_parameters
from vaeops.data.sparse import resolve_device

logger = logging.getLogger(__name__)

BASELINES = {
    "popularity": Popularity,
    "ease": EASE,
    "itemknn": ItemKNN,
    "mf": MatrixFactorization,
}
RECALL_DEFINITIONS = (
    "Recall@K divides a user's hits by min(K, n test items), as in Liang et al.'s code; "
    "'÷ all' columns divide by n test items, as in the LightGCN code. NDCG@K divides by "
    "the ideal DCG of min(K, n test items) hits in both."
)


def benchmark_models(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    benchmark: dict,
    training: dict,
) -> dict[str, dict[str, Any]]:
    """Train each selected model on ``train`` and score all of them on the same test users.

    Without validation users the autoencoders train for all their epochs and keep the last.
    """
    selected = _check_settings(benchmark)
    device = resolve_device(benchmark["evaluation"]["device"])
    results = {}
    for position, name in enumerate(selected, start=1):
        logger.info("benchmark model %d/%d: %s", position, len(selected), name)
        settings = _model_settings(name, benchmark, training)
        with model_run(name, settings):
            if name in BASELINES:
                started = time.perf_counter()
                scorer = scipy_scorer(BASELINES[name](**settings).fit(train))
                train_seconds = time.perf_counter() - started
            else:
                scorer, train_seconds = _train_autoencoder(
                    name, settings, train, validation_fold_in, validation_target, device
                )
            with torch.no_grad():
                evaluation = evaluate(
                    scorer,
                    test_fold_in,
                    test_target,
                    ks=benchmark["evaluation"]["ks"],
                    batch_size=benchmark["evaluation"]["batch_size"],
                    device=device,
                )
            metrics = {f"test/{m}": value for m, value in evaluation.summary().items()}
            log_model_metrics({**metrics, "train_seconds": train_seconds})
        logger.info(
            "%s: test %s = %.4f after %.1f s of training",
            name,
            benchmark["headline_metric"],
            evaluation.summary()[benchmark["headline_metric"]],
            train_seconds,
        )
        results[name] = {"evaluation": evaluation, "train_seconds": train_seconds}
    return results


def _check_settings(benchmark: dict) -> list[str]:
    """The selected model names, in order, once the settings are known to be usable."""
    models = benchmark["models"]
    if not isinstance(models, Mapping) or not all(isinstance(on, bool) for on in models.values()):
        raise ValueError(
            f"benchmark.models must map each model name to true or false, got {models!r}; "
            "switch one off with e.g. `--params benchmark.models.ease=false`."
        )
    known = set(BASELINES) | set(benchmark["autoencoders"])
    unknown = [name for name in models if name not in known]
    if unknown:
        raise ValueError(
            f"benchmark.models names {unknown}, which are neither baselines {sorted(BASELINES)} "
            f"nor autoencoders configured under benchmark.autoencoders "
            f"{sorted(benchmark['autoencoders'])}."
        )
    selected = [name for name, on in models.items() if on]
    if benchmark["reference"] not in selected or len(selected) < 2:
        raise ValueError(
            f"benchmark.reference ({benchmark['reference']!r}) must be one of the selected "
            f"benchmark.models ({selected}), alongside at least one model to compare it with."
        )
    missing = set(benchmark["table_metrics"]) - metric_names(benchmark["evaluation"]["ks"])
    if missing or benchmark["headline_metric"] not in benchmark["table_metrics"]:
        raise ValueError(
            f"benchmark.table_metrics {sorted(benchmark['table_metrics'])} needs cut-offs "
            f"missing from benchmark.evaluation.ks ({benchmark['evaluation']['ks']}): "
            f"{sorted(missing)}; and benchmark.headline_metric "
            f"({benchmark['headline_metric']!r}) must be one of the table's metrics."
        )

    published = benchmark.get("published") or {"models": {}}
    unknown_columns = {
        f"{model}.{metric}"
        for model, values in published["models"].items()
        for metric in values
        if metric not in benchmark["table_metrics"]
    }
    if unknown_columns:
        raise ValueError(
            f"Published values {sorted(unknown_columns)} have no column in "
            f"benchmark.table_metrics {sorted(benchmark['table_metrics'])}; name each value "
            "after the metric it was computed as (e.g. uncapped_recall_at_20 for a recall that "
            "divides by all test items)."
        )
    return selected


def _model_settings(name: str, benchmark: dict, training: dict) -> dict:
    if name in BASELINES:
        return dict(benchmark["baselines"].get(name) or {})
    return merged(training, benchmark["autoencoders"][name] or {})


def merged(base: Mapping, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` applied key by key, into nested mappings too."""
    combined = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(combined.get(key), Mapping):
            combined[key] = merged(combined[key], value)
        else:
            combined[key] = value
    return combined


def _train_autoencoder(
    name: str,
    settings: dict,
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix | None,
    validation_target: sp.csr_matrix | None,
    device: torch.device,
):
    result, _ = train_from_parameters(
        train, validation_fold_in, validation_target, settings, progress_label=name
    )
    logger.info("%s: kept epoch %d of %d", name, result.best_epoch, result.config.epochs)
    return result.model.to(device).score, result.seconds


def write_benchmark_report(results: dict[str, dict[str, Any]], benchmark: dict) -> dict:
    """The comparison table and, for the reference model against each other model,
    the Bayesian-bootstrap probabilities on the headline metric."""
    reference = benchmark["reference"]
    metric = benchmark["headline_metric"]
    evaluations: dict[str, Evaluation] = {name: r["evaluation"] for name, r in results.items()}
    comparisons = {
        other: compare_paired(
            evaluations[reference].per_user[metric],
            _paired(evaluations[other], evaluations[reference]).per_user[metric],
            rope=benchmark["rope"],
            n_samples=benchmark["bootstrap_samples"],
            seed=benchmark["bootstrap_seed"],
        )
        for other in evaluations
        if other != reference
    }
    report = {
        "headline_metric": metric,
        "table_metrics": benchmark["table_metrics"],
        "recall_definitions": RECALL_DEFINITIONS,
        "reference": reference,
        "n_evaluated_users": int(evaluations[reference].rows.size),
        "n_users_without_targets": evaluations[reference].n_users_without_targets,
        "models": {
            name: {**r["evaluation"].summary(), "train_seconds": r["train_seconds"]}
            for name, r in results.items()
        },
        "comparisons": {
            other: {
                f"p_{reference}_better": c.p_a_better,
                "p_rope": c.p_rope,
                f"p_{other}_better": c.p_b_better,
                "mean_difference": c.mean_difference,
                "rope": c.rope,
                "n_users": c.n_users,
                "method": c.method,
            }
            for other, c in comparisons.items()
        },
        "published": benchmark.get("published"),
    }
    return {"report": report, "report_markdown": _markdown(report, comparisons)}


def _paired(evaluation: Evaluation, reference: Evaluation) -> Evaluation:
    """``evaluation`` itself, once it is known to cover the reference's users in its order."""
    if not (
        evaluation.rows.shape == reference.rows.shape and (evaluation.rows == reference.rows).all()
    ):
        raise DataError(
            "Two benchmarked models were scored on different test users, so their per-user "
            "metrics cannot be paired; evaluate every model on the same test_fold_in/test_target."
        )
    return evaluation


def _markdown(report: dict, comparisons: dict) -> str:
    reference, metric = report["reference"], report["headline_metric"]
    columns = report["table_metrics"]
    lines = [
        f"Test users with held-out items: {report['n_evaluated_users']}. "
        + report["recall_definitions"],
        "",
        "| model | " + " | ".join(columns.values()) + " | train seconds |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for name, values in report["models"].items():
        cells = [f"{values[m]:.4f}" for m in columns] + [f"{values['train_seconds']:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    published = report["published"]
    if published:
        for name, values in published["models"].items():
            cells = [f"{values[m]:.4f}" if m in values else "—" for m in columns] + ["—"]
            lines.append(f"| {name} (**published**) | " + " | ".join(cells) + " |")
        lines += ["", f"Published rows were not measured here; source: {published['source']}."]
    if comparisons:
        any_comparison = next(iter(comparisons.values()))
        lines += [
            "",
            f"{reference} against each model on test {columns[metric]}, paired by user "
            f"(ROPE ±{any_comparison.rope}; method: {any_comparison.method}):",
            "",
            f"| other model | P({reference} better) | P(equivalent) | P(other better) "
            f"| mean difference ({reference} − other) |",
            "|---|---:|---:|---:|---:|",
        ]
        for other, c in comparisons.items():
            lines.append(
                f"| {other} | {c.p_a_better:.3f} | {c.p_rope:.3f} | {c.p_b_better:.3f} "
                f"| {c.mean_difference:+.4f} |"
            )
    return "\n".join(lines) + "\n"
