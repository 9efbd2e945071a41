"""The benchmark's comparisons: the reference model against each other model, and each
autoencoder against EASE, user by user (Bayesian bootstrap) on the headline metric."""

from __future__ import annotations

from typing import Any

from vaeops.errors import DataError
from vaeops.recommenders.benchmark.settings import (
    BASELINE_TO_BEAT,
    BASELINES,
    BenchmarkParameters,
)
from vaeops.recommenders.metrics import Evaluation
from vaeops.statistics.paired_users import ComparisonResult, compare_paired

RECALL_DEFINITIONS = (
    "Recall@K divides a user's hits by min(K, n test items), as in Liang et al.'s code; "
    "'÷ all' columns divide by n test items, as in the LightGCN code. NDCG@K divides by "
    "the ideal DCG of min(K, n test items) hits in both."
)


def benchmark_report(results: dict[str, Any], benchmark: BenchmarkParameters) -> dict[str, Any]:
    """The protocol, the comparison table, each model's choices and, on the headline
    metric, Bayesian-bootstrap probabilities for the reference model against each other
    model and for each autoencoder against EASE."""
    models = results["models"]
    reference, metric = benchmark.reference, benchmark.headline_metric
    evaluations: dict[str, Evaluation] = {name: r["evaluation"] for name, r in models.items()}

    def compare(a: str, b: str) -> ComparisonResult:
        return compare_paired(
            evaluations[a].per_user[metric],
            _paired(evaluations[b], evaluations[a]).per_user[metric],
            rope=benchmark.rope,
            n_samples=benchmark.bootstrap_samples,
            seed=benchmark.bootstrap_seed,
        )

    comparisons = {other: compare(reference, other) for other in evaluations if other != reference}
    against_ease = (
        {name: compare(name, BASELINE_TO_BEAT) for name in evaluations if name not in BASELINES}
        if BASELINE_TO_BEAT in evaluations
        else {}
    )
    return {
        "protocol": results["protocol"],
        "headline_metric": metric,
        "table_metrics": benchmark.table_metrics,
        "recall_definitions": RECALL_DEFINITIONS,
        "reference": reference,
        "n_evaluated_users": int(evaluations[reference].rows.size),
        "n_users_without_targets": evaluations[reference].n_users_without_targets,
        "models": {
            name: {**r["evaluation"].summary(), "train_seconds": r["train_seconds"]}
            for name, r in models.items()
        },
        "choices": {name: r["choice"] for name, r in models.items()},
        "comparisons": {
            other: _probabilities(c, reference, other) for other, c in comparisons.items()
        },
        f"against_{BASELINE_TO_BEAT}": {
            name: _probabilities(c, name, BASELINE_TO_BEAT) for name, c in against_ease.items()
        },
        "best_autoencoder": _best_on_validation(models, against_ease),
        "published": benchmark.published.model_dump() if benchmark.published else None,
    }


def _best_on_validation(models: dict, against_ease: dict) -> str | None:
    """The autoencoder a user would ship: the best validation score, never the test's."""
    scored = {
        name: models[name]["choice"]["validation_score"]
        for name in against_ease
        if models[name]["choice"].get("validation_score") is not None
    }
    return max(scored, key=scored.get) if scored else None


def _probabilities(comparison: ComparisonResult, a: str, b: str) -> dict[str, Any]:
    return {
        f"p_{a}_better": comparison.p_a_better,
        "p_rope": comparison.p_rope,
        f"p_{b}_better": comparison.p_b_better,
        "mean_difference": comparison.mean_difference,
        "rope": comparison.rope,
        "n_users": comparison.n_users,
        "method": comparison.method,
    }


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
