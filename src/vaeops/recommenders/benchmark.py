"""Baselines and autoencoders, each chosen on validation users, then scored once on test users.

Every choice a benchmark makes (a baseline's setting from a grid of values, the
epoch an autoencoder keeps) is made on validation users. The test users are
scored once, after all choices, by the same code for every model, so the table
compares models rather than protocols, and nothing about the test users can
pick a model. A split that ships only train and test parts (LightGCN's) gets
its validation users carved out of the train part; the chosen models may then
be fitted again on all train items (``refit``). The reference model is compared
with each other model, and each autoencoder with EASE, user by user (Bayesian
bootstrap). Autoencoder training and per-model tracking come in as callbacks,
so this module runs without MLflow.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.model_selection import ParameterGrid

from vaeops.data.settings import CarvedValidationParameters
from vaeops.data.sparse import resolve_device
from vaeops.data.splits import carve_validation
from vaeops.errors import DataError
from vaeops.recommenders.baselines import EASE, ItemKNN, MatrixFactorization, Popularity
from vaeops.recommenders.metrics import Evaluation, Scorer, evaluate, metric_names, scipy_scorer
from vaeops.recommenders.training import TrainingResult
from vaeops.statistics.paired_users import ComparisonResult, compare_paired

logger = logging.getLogger(__name__)

BASELINES = {
    "popularity": Popularity,
    "ease": EASE,
    "itemknn": ItemKNN,
    "mf": MatrixFactorization,
}
# The closed-form EASE matches Mult-VAE on MovieLens (Steck 2019): an autoencoder
# is worth choosing only where it beats EASE, so each one is compared with it.
BASELINE_TO_BEAT = "ease"
RECALL_DEFINITIONS = (
    "Recall@K divides a user's hits by min(K, n test items), as in Liang et al.'s code; "
    "'÷ all' columns divide by n test items, as in the LightGCN code. NDCG@K divides by "
    "the ideal DCG of min(K, n test items) hits in both."
)

_EVERY_CHOICE = "Every choice (a baseline's setting from its grid, the epoch an autoencoder keeps)"
# A validation split: the users' fold-in and target items.
Validation = tuple[sp.csr_matrix, sp.csr_matrix]
# (model name, its settings, training matrix, validation or None) -> the trained
# autoencoder, holding the weights of its best validation epoch (the last without).
AutoencoderTrainer = Callable[[str, dict, sp.csr_matrix, Validation | None], TrainingResult]


class ModelLog(Protocol):
    """Where one model's settings, choices and scores are recorded (its MLflow run)."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float]) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...


# (model name, its settings) -> a context around the model's fit and scoring that
# yields its log.
ModelRun = Callable[[str, dict], AbstractContextManager[ModelLog]]


@dataclass(frozen=True)
class BenchmarkData:
    """The matrices of one benchmark, and how its validation users came about.

    Models learn from ``train`` while every choice is made on the validation users;
    with ``refit_train`` the chosen models are fitted again on it before the test
    users are scored. ``protocol`` describes this for the report.
    """

    train: sp.csr_matrix
    validation_fold_in: sp.csr_matrix
    validation_target: sp.csr_matrix
    test_fold_in: sp.csr_matrix
    test_target: sp.csr_matrix
    protocol: dict[str, Any]
    refit_train: sp.csr_matrix | None = None


def held_out_data(
    train: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
) -> BenchmarkData:
    """The Liang split: validation and test users are users apart from the training users."""
    n_users = int((validation_target.getnnz(axis=1) > 0).sum())
    protocol = {
        "validation": "held-out users",
        "validation_users": n_users,
        "refit": False,
        "description": (
            f"{_EVERY_CHOICE} was made on the split's {n_users:,} held-out validation users; "
            "the test users were scored once, after all choices."
        ),
    }
    return BenchmarkData(
        train, validation_fold_in, validation_target, test_fold_in, test_target, protocol
    )


def given_split_data(
    train: sp.csr_matrix, test_target: sp.csr_matrix, validation: Mapping[str, Any], refit: bool
) -> BenchmarkData:
    """A split that ships train and test parts: the validation users are carved out of
    the train part (``validation`` holds carve_validation's share, seed and max_users),
    and every user's train items are their fold-in when the test items are ranked.

    With ``refit`` the chosen models are fitted again on all train items; carving keeps
    every user's row, so an epoch of the refit has as many updates as one of the run
    that chose it.
    """
    carved = carve_validation(train, CarvedValidationParameters.model_validate(validation))
    n_users = int(carved.rows.size)
    drawn = (
        f"at most {validation['max_users']:,} users drawn at random"
        if validation.get("max_users")
        else "every user with two or more train items"
    )
    refitting = (
        "Refit: yes. The chosen models were then fitted again on all train items (each "
        "autoencoder for its kept number of epochs)."
        if refit
        else "Refit: no. The models learnt from the train part less the validation targets."
    )
    protocol = {
        "validation": "carved from the train part",
        "validation_users": n_users,
        **validation,
        "refit": refit,
        "description": (
            f"{_EVERY_CHOICE} was made on {n_users:,} validation users carved from the train "
            f"part ({drawn}, seed {validation['seed']}): a share {validation['share']} of "
            "each one's train items became their validation targets, the rest their "
            f"fold-in. {refitting} The test part played no role in any choice; it was "
            "scored once, at the end, with every user's train items as their fold-in."
        ),
    }
    return BenchmarkData(
        train=carved.train,
        validation_fold_in=carved.fold_in,
        validation_target=carved.target,
        test_fold_in=train,
        test_target=test_target,
        protocol=protocol,
        refit_train=train if refit else None,
    )


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


def candidate_settings(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a baseline's settings, where a list is a grid of values."""
    return list(
        ParameterGrid(
            {key: value if isinstance(value, list) else [value] for key, value in settings.items()}
        )
    )


def refit_settings(settings: Mapping[str, Any], chosen: TrainingResult) -> dict[str, Any]:
    """The settings that rerun the run which kept ``chosen.best_epoch``, on all train items
    and up to that epoch: the same seed, nothing to stop on, and β reaching its cap at
    the same update as in that run, although the refit plans fewer epochs."""
    kept, config = chosen.best_epoch, chosen.config
    refit = {**settings, "epochs": kept, "patience": None}
    if config.total_anneal_steps is None:
        refit["anneal_share"] = config.anneal_share * config.epochs / kept
    return refit


@dataclass(frozen=True)
class _Fitted:
    scorer: Scorer
    seconds: float  # every fit: each candidate or the choosing run, and the refit
    choice: dict[str, Any]  # what validation chose, for the report


def fit_and_score(
    settings: Mapping[str, dict],
    data: BenchmarkData,
    evaluation: Mapping[str, Any],
    headline_metric: str,
    validation_k: int,
    train_autoencoder: AutoencoderTrainer,
    model_run: ModelRun,
) -> dict[str, Any]:
    """Fit each model of ``settings`` (name: settings, in order), make its choices on the
    validation users, refit it where ``data`` says so, and only then score it on the test
    users with ``evaluation`` (ks, batch_size, device).

    A baseline is fitted once per combination of its listed values, keeping the one
    with the best validation NDCG@``validation_k``; any other name is an autoencoder,
    trained by ``train_autoencoder``, which keeps its best validation epoch.
    """
    device = resolve_device(evaluation["device"])
    models = {}
    for position, (name, model_settings) in enumerate(settings.items(), start=1):
        logger.info("benchmark model %d/%d: %s", position, len(settings), name)
        with model_run(name, model_settings) as log:
            if name in BASELINES:
                fitted = _fit_baseline(
                    BASELINES[name], model_settings, data, validation_k, evaluation, device
                )
            else:
                fitted = _fit_autoencoder(name, model_settings, data, train_autoencoder, device)
            with torch.no_grad():
                scored = evaluate(
                    fitted.scorer,
                    data.test_fold_in,
                    data.test_target,
                    ks=evaluation["ks"],
                    batch_size=evaluation["batch_size"],
                    device=device,
                )
            _log_outcome(log, fitted, scored)
        logger.info(
            "%s: test %s = %.4f after %.1f s of training",
            name,
            headline_metric,
            scored.summary()[headline_metric],
            fitted.seconds,
        )
        models[name] = {
            "evaluation": scored,
            "train_seconds": fitted.seconds,
            "choice": fitted.choice,
        }
    return {"protocol": data.protocol, "models": models}


def _fit_baseline(
    model_class: type,
    settings: Mapping[str, Any],
    data: BenchmarkData,
    validation_k: int,
    evaluation: Mapping[str, Any],
    device: torch.device,
) -> _Fitted:
    started = time.perf_counter()
    candidates = candidate_settings(settings)
    final_train = data.train if data.refit_train is None else data.refit_train
    if len(candidates) == 1:  # nothing to choose
        model = model_class(**candidates[0]).fit(final_train)
        return _Fitted(scipy_scorer(model), time.perf_counter() - started, {})
    metric = f"ndcg_at_{validation_k}"
    grid, chosen, best_score = [], None, math.nan
    for position, candidate in enumerate(candidates, start=1):
        fit_started = time.perf_counter()
        model = model_class(**candidate).fit(data.train)
        with torch.no_grad():
            score = evaluate(
                scipy_scorer(model),
                data.validation_fold_in,
                data.validation_target,
                ks=(validation_k,),
                batch_size=evaluation["batch_size"],
                device=device,
            ).summary()[metric]
        grid.append({**candidate, f"validation_{metric}": score})
        logger.info(
            "%s grid %d/%d %s: validation %s = %.4f after %.1f s",
            model_class.__name__,
            position,
            len(candidates),
            candidate,
            metric,
            score,
            time.perf_counter() - fit_started,
        )
        if chosen is None or score > best_score:
            best_score, chosen, kept = score, candidate, model
        del model  # holding one model besides the best bounds EASE's memory to two
    if data.refit_train is not None:
        del kept
        kept = model_class(**chosen).fit(data.refit_train)
    changed = {key: chosen[key] for key, value in settings.items() if isinstance(value, list)}
    choice = {
        "chosen": changed,
        "validation_metric": metric,
        "validation_score": best_score,
        "grid": grid,
    }
    return _Fitted(scipy_scorer(kept), time.perf_counter() - started, choice)


def _fit_autoencoder(
    name: str,
    settings: dict,
    data: BenchmarkData,
    train_autoencoder: AutoencoderTrainer,
    device: torch.device,
) -> _Fitted:
    validation = (data.validation_fold_in, data.validation_target)
    trained = train_autoencoder(name, settings, data.train, validation)
    logger.info(
        "%s: kept epoch %d; stopped after epoch %d of %d",
        name,
        trained.best_epoch,
        trained.stopped_epoch,
        trained.config.epochs,
    )
    choice = {
        "kept_epoch": trained.best_epoch,
        "stopped_epoch": trained.stopped_epoch,
        "planned_epochs": trained.config.epochs,
        "precision": trained.precision,
        "validation_metric": f"ndcg_at_{trained.config.validation_k}",
        "validation_score": trained.best_validation_ndcg,
    }
    seconds = trained.seconds
    if data.refit_train is not None:
        trained = train_autoencoder(name, refit_settings(settings, trained), data.refit_train, None)
        seconds += trained.seconds
    return _Fitted(trained.model.to(device).score, seconds, choice)


def _log_outcome(log: ModelLog, fitted: _Fitted, scored: Evaluation) -> None:
    choice = fitted.choice
    metrics = {f"test/{metric}": value for metric, value in scored.summary().items()}
    metrics["train_seconds"] = fitted.seconds
    if "grid" in choice:  # a baseline's setting chosen from its grid
        log.log_params({f"chosen.{key}": value for key, value in choice["chosen"].items()})
        metrics[f"val/{choice['validation_metric']}"] = choice["validation_score"]
    if "kept_epoch" in choice:  # an autoencoder, whose validation curve is logged per epoch
        log.set_tags({"precision": choice["precision"]})
        metrics.update(kept_epoch=choice["kept_epoch"], stopped_epoch=choice["stopped_epoch"])
    log.log_metrics(metrics)


def benchmark_report(results: dict[str, Any], benchmark: dict) -> dict:
    """The protocol, the comparison table, each model's choices and, on the headline
    metric, Bayesian-bootstrap probabilities for the reference model against each other
    model and for each autoencoder against EASE."""
    models = results["models"]
    reference, metric = benchmark["reference"], benchmark["headline_metric"]
    evaluations: dict[str, Evaluation] = {name: r["evaluation"] for name, r in models.items()}

    def compare(a: str, b: str) -> ComparisonResult:
        return compare_paired(
            evaluations[a].per_user[metric],
            _paired(evaluations[b], evaluations[a]).per_user[metric],
            rope=benchmark["rope"],
            n_samples=benchmark["bootstrap_samples"],
            seed=benchmark["bootstrap_seed"],
        )

    comparisons = {other: compare(reference, other) for other in evaluations if other != reference}
    against_ease = (
        {name: compare(name, BASELINE_TO_BEAT) for name in evaluations if name not in BASELINES}
        if BASELINE_TO_BEAT in evaluations
        else {}
    )
    report = {
        "protocol": results["protocol"],
        "headline_metric": metric,
        "table_metrics": benchmark["table_metrics"],
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
        "published": benchmark.get("published"),
    }
    markdown = _markdown(report, comparisons, against_ease)
    return {"report": report, "report_markdown": markdown}


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


def _markdown(report: dict, comparisons: dict, against_ease: dict) -> str:
    reference, metric = report["reference"], report["headline_metric"]
    columns = report["table_metrics"]
    lines = [
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
