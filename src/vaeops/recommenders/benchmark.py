"""Baselines and autoencoders fitted on one split, scored by one evaluation, compared.

Every model of a benchmark is scored by the same code on the same test users,
so its table compares models, not evaluation protocols; the reference model is
then compared with each other one user by user (Bayesian bootstrap).
Autoencoder training and per-model tracking come in as callbacks, so this
module runs without MLflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd
import scipy.sparse as sp
import torch

from vaeops.data.ingest import load_gowalla_split
from vaeops.data.sparse import resolve_device
from vaeops.data.splits import GivenSplit, given_split
from vaeops.errors import DataError
from vaeops.recommenders.baselines import EASE, ItemKNN, MatrixFactorization, Popularity
from vaeops.recommenders.metrics import Evaluation, evaluate, metric_names, scipy_scorer
from vaeops.recommenders.training import TrainingResult
from vaeops.statistics.paired_users import compare_paired

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
# Datasets whose source ships a train/test split, and the loader that keeps it.
GIVEN_SPLIT_LOADERS = {"gowalla": load_gowalla_split}

# (model name, its settings) -> the trained autoencoder, its weights kept.
AutoencoderTrainer = Callable[[str, dict], TrainingResult]
# (model name, its settings) -> a context around the model's fit and scoring that
# yields the function its test metrics and train seconds are logged with.
ModelRun = Callable[[str, dict], AbstractContextManager[Callable[[dict[str, float]], None]]]


def selected_models(benchmark: dict) -> list[str]:
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


def fit_and_score(
    settings: Mapping[str, dict],
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    evaluation: Mapping[str, Any],
    headline_metric: str,
    train_autoencoder: AutoencoderTrainer,
    model_run: ModelRun,
) -> dict[str, dict[str, Any]]:
    """Fit each model of ``settings`` (name: settings, in order) and score all of them on
    the same test users with ``evaluation`` (ks, batch_size, device).

    Baselines are fitted on ``train`` here; any other name is an autoencoder,
    trained by ``train_autoencoder``, which holds its training and validation data.
    """
    device = resolve_device(evaluation["device"])
    results = {}
    for position, (name, model_settings) in enumerate(settings.items(), start=1):
        logger.info("benchmark model %d/%d: %s", position, len(settings), name)
        with model_run(name, model_settings) as log_metrics:
            if name in BASELINES:
                started = time.perf_counter()
                scorer = scipy_scorer(BASELINES[name](**model_settings).fit(train))
                train_seconds = time.perf_counter() - started
            else:
                trained = train_autoencoder(name, model_settings)
                logger.info(
                    "%s: kept epoch %d of %d", name, trained.best_epoch, trained.config.epochs
                )
                scorer, train_seconds = trained.model.to(device).score, trained.seconds
            with torch.no_grad():
                scored = evaluate(
                    scorer,
                    test_fold_in,
                    test_target,
                    ks=evaluation["ks"],
                    batch_size=evaluation["batch_size"],
                    device=device,
                )
            metrics = {f"test/{m}": value for m, value in scored.summary().items()}
            log_metrics({**metrics, "train_seconds": train_seconds})
        logger.info(
            "%s: test %s = %.4f after %.1f s of training",
            name,
            headline_metric,
            scored.summary()[headline_metric],
            train_seconds,
        )
        results[name] = {"evaluation": scored, "train_seconds": train_seconds}
    return results


def benchmark_report(results: dict[str, dict[str, Any]], benchmark: dict) -> dict:
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
        _models_table(report["models"], report["published"], columns),
    ]
    if report["published"]:
        lines += [
            "",
            f"Published rows were not measured here; source: {report['published']['source']}.",
        ]
    if comparisons:
        any_comparison = next(iter(comparisons.values()))
        table = pd.DataFrame(
            {
                f"P({reference} better)": [c.p_a_better for c in comparisons.values()],
                "P(equivalent)": [c.p_rope for c in comparisons.values()],
                "P(other better)": [c.p_b_better for c in comparisons.values()],
                f"mean difference ({reference} − other)": [
                    c.mean_difference for c in comparisons.values()
                ],
            },
            index=pd.Index(list(comparisons), name="other model"),
        )
        lines += [
            "",
            f"{reference} against each model on test {columns[metric]}, paired by user "
            f"(ROPE ±{any_comparison.rope}; method: {any_comparison.method}):",
            "",
            table.to_markdown(floatfmt=("", ".3f", ".3f", ".3f", "+.4f")),
        ]
    return "\n".join(lines) + "\n"


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


def load_given_split(dataset: dict) -> GivenSplit:
    """The train/test split that ships with ``dataset`` (benchmark_given_split.dataset)."""
    if dataset["name"] not in GIVEN_SPLIT_LOADERS:
        raise DataError(
            f"benchmark_given_split.dataset.name={dataset['name']!r} has no published "
            f"train/test split here; use one of {sorted(GIVEN_SPLIT_LOADERS)}, or run "
            "`kedro run --pipeline benchmark` for the Liang split of any dataset."
        )
    train, test = GIVEN_SPLIT_LOADERS[dataset["name"]](dataset["raw_dir"], path=dataset["path"])
    return given_split(train, test)


def given_split_summary(dataset_name: str, split: GivenSplit) -> dict[str, Any]:
    return {
        "dataset": dataset_name,
        "users": split.train.shape[0],
        "items": split.train.shape[1],
        "train_interactions": int(split.train.nnz),
        "test_interactions": int(split.test_target.nnz),
    }
