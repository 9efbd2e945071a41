"""Scheduled retraining: train a challenger on the current data, promote it only if it wins.

The work runs in one node under an exclusive lock because its steps are
conditional (no new data, fewer users, a run already in progress) and must
not overlap another run; the steps themselves are the default pipeline's
nodes, called in order. Nothing touches the registry until training and
evaluation have finished, so a run killed midway leaves it as it was.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.errors import DataError
from vaeops.data.ingest import INTERACTION_COLUMNS, load_interactions, merge_duplicates
from vaeops.integrations.registry import (
    CHALLENGER,
    CHAMPION,
    N_USERS_TAG,
    ModelRegistry,
    TrainedRecommender,
    active_run_id,
)
from vaeops.pipelines.evaluation.nodes import evaluate_on_test
from vaeops.pipelines.ingestion.nodes import ingest_interactions
from vaeops.pipelines.preprocessing.nodes import split_users
from vaeops.pipelines.registration.nodes import data_tags
from vaeops.pipelines.training.nodes import train_recommender
from vaeops.recommenders.retraining import (
    RetrainingInProgress,
    challenger_wins,
    exclusive_lock,
    interactions_fingerprint,
    metric_depth,
)
from vaeops.recommenders.serving import Recommender, ranking_quality

logger = logging.getLogger(__name__)


def ingest_current_interactions(dataset: dict, retraining: dict) -> pd.DataFrame:
    """The dataset as configured plus ``retraining.extra_files``, repeated pairs merged.

    Extra files of a custom dataset have its columns (``dataset.columns``); for a
    named dataset they use the standard names user, item[, rating][, timestamp].
    """
    interactions = ingest_interactions(dataset)
    extra_files = retraining["extra_files"] or []
    if not extra_files:
        return interactions
    if dataset["name"] == "custom":
        columns = dataset["columns"]
    else:
        columns = {
            role: (role if role in interactions.columns else None) for role in INTERACTION_COLUMNS
        }
    frames = [interactions]
    for path in extra_files:
        extra = load_interactions("custom", raw_dir=dataset["raw_dir"], path=path, columns=columns)
        for column in ("user", "item"):
            if pd.api.types.is_integer_dtype(extra[column]) != pd.api.types.is_integer_dtype(
                interactions[column]
            ):
                raise DataError(
                    f"{path}: {column} ids are {extra[column].dtype} but the dataset's are "
                    f"{interactions[column].dtype}; new interactions must use the same ids."
                )
        frames.append(extra)
        logger.info("Added %d interactions from %s", len(extra), path)
    return merge_duplicates(pd.concat(frames, ignore_index=True), "interactions + extra files")


def retrain_and_decide(
    interactions: pd.DataFrame,
    preprocessing: dict,
    training: dict,
    evaluation: dict,
    dataset: dict,
    registry: dict,
    retraining: dict,
) -> dict:
    """Run one retraining round unless another is in progress; report what was decided."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        with exclusive_lock(retraining["lock_file"]):
            decision = _retrain(
                interactions, preprocessing, training, evaluation, dataset, registry, retraining
            )
    except RetrainingInProgress as busy:
        logger.warning(str(busy))
        decision = {"outcome": "locked", "promoted": False, "reason": str(busy)}
    decision = {"started": started, "model_name": registry["model_name"], **decision}
    decision["run_id"] = active_run_id()
    logger.info("Retraining decision: %s (%s)", decision["outcome"], decision["reason"])
    return {
        "decision": decision,
        "log_line": json.dumps(decision, sort_keys=True) + "\n",
        "metrics": _decision_metrics(decision),
        "tags": {"retraining.outcome": decision["outcome"]},
    }


def _retrain(
    interactions, preprocessing, training, evaluation, dataset, registry, retraining
) -> dict:
    metric = retraining["metric"]
    depth = metric_depth(metric)
    models = ModelRegistry(registry["model_name"])
    champion = models.version(CHAMPION)
    fingerprint = interactions_fingerprint(interactions)
    facts = {
        "metric": metric,
        "margin": retraining["margin"],
        "dataset_fingerprint": fingerprint,
        "n_interactions": len(interactions),
        "champion_version": champion.version if champion else None,
        "champion_metric": None,
        "challenger_version": None,
        "challenger_metric": None,
    }

    trained_before = models.versions_trained_on(fingerprint)
    if trained_before and not retraining["force"]:
        versions = ", ".join(sorted(str(version.version) for version in trained_before))
        return _decided(
            facts,
            "no_new_data",
            f"no new data: version(s) {versions} were trained on these exact interactions; "
            "nothing registered (set retraining.force=true to retrain anyway)",
        )

    split = split_users(interactions, preprocessing)
    facts["n_users"] = split["summary"]["total"]["users"]
    if champion is not None:
        facts["champion_n_users"] = int(champion.tags[N_USERS_TAG])
        if facts["n_users"] < facts["champion_n_users"] and not retraining["allow_fewer_users"]:
            return _decided(
                facts,
                "refused_fewer_users",
                f"the data have {facts['n_users']} users after filtering but the champion was "
                f"trained on {facts['champion_n_users']}; refusing to train on less data (set "
                "retraining.allow_fewer_users=true if the shrink is intended)",
            )

    candidate, test_metrics = _train_and_evaluate(split, training, evaluation, dataset)
    challenger = models.register(
        candidate,
        metrics=test_metrics,
        data_tags=data_tags(dataset, interactions, split["summary"]),
        serving=registry["serving"],
        aliases=(CHALLENGER,),
    )
    facts["challenger_version"] = challenger.version
    facts["test_metrics"] = test_metrics
    heldout = heldout_users(split, candidate.item_ids())
    challenger_recommender = Recommender.from_weights(
        candidate.weights, candidate.model_config, candidate.item_ids(), candidate.popularity()
    )

    if champion is None:
        facts["n_comparison_users"] = len(heldout)
        facts["challenger_metric"] = _mean_quality(challenger_recommender, heldout, metric, depth)
        if not np.isfinite(facts["challenger_metric"]):
            return _decided(
                facts,
                "first_model_invalid",
                f"no champion yet, but the first model's {metric} is not finite; none set",
            )
        models.set_alias(CHAMPION, challenger.version)
        return _decided(
            facts,
            "first_champion",
            f"no champion yet: version {challenger.version} becomes champion",
            promoted=True,
        )

    # Users the champion trained on would flatter it: compare on the others only.
    serving_champion = models.load(champion)
    fresh = heldout[~heldout["user"].isin(serving_champion.training_users())]
    facts["n_comparison_users"] = len(fresh)
    if fresh.empty:
        return _decided(
            facts,
            "kept_champion",
            "every held-out user of the new split trained the champion, so the two cannot be "
            "compared fairly; champion kept",
        )
    facts["champion_metric"] = _mean_quality(serving_champion.recommender, fresh, metric, depth)
    facts["challenger_metric"] = _mean_quality(challenger_recommender, fresh, metric, depth)
    comparison = (
        f"challenger {metric} {facts['challenger_metric']:.4f} vs champion "
        f"{facts['champion_metric']:.4f} + margin {retraining['margin']} on {len(fresh)} "
        "held-out users neither model trained on"
    )
    if challenger_wins(facts["champion_metric"], facts["challenger_metric"], retraining["margin"]):
        models.set_alias(CHAMPION, challenger.version)
        return _decided(
            facts,
            "promoted",
            f"{comparison}: version {challenger.version} is the new champion",
            promoted=True,
        )
    return _decided(
        facts, "kept_champion", f"{comparison}: champion version {champion.version} kept"
    )


def _decided(facts: dict, outcome: str, reason: str, promoted: bool = False) -> dict:
    return {**facts, "outcome": outcome, "promoted": promoted, "reason": reason}


def _train_and_evaluate(
    split: dict, training: dict, evaluation: dict, dataset: dict
) -> tuple[TrainedRecommender, dict[str, float]]:
    """The default pipeline's training and evaluation nodes on the new split."""
    trained = train_recommender(
        split["train"], split["validation_fold_in"], split["validation_target"], training, dataset
    )
    evaluated = evaluate_on_test(
        trained["weights"],
        trained["model_config"],
        split["train"],
        split["test_fold_in"],
        split["test_target"],
        split["user_map"],
        evaluation,
    )
    candidate = TrainedRecommender(
        trained["weights"],
        trained["model_config"],
        split["item_map"],
        split["train"],
        split["user_map"],
    )
    return candidate, {name: entry["value"] for name, entry in evaluated["metrics"].items()}


def heldout_users(split: dict, item_ids: pd.Series) -> pd.DataFrame:
    """The split's test users with targets: user, fold_in and target as original item ids."""
    users = split["user_map"]
    test_users = users[users["split"] == "test"].sort_values("row")["user"].to_numpy()
    ids = item_ids.to_numpy()
    fold_in, target = split["test_fold_in"], split["test_target"]
    frame = pd.DataFrame(
        {
            "user": test_users,
            "fold_in": _rows_as_ids(fold_in, ids),
            "target": _rows_as_ids(target, ids),
        }
    )
    return frame[np.diff(target.indptr) > 0].reset_index(drop=True)


def _rows_as_ids(matrix: sp.csr_matrix, ids: np.ndarray) -> list[np.ndarray]:
    return [
        ids[matrix.indices[start:stop]]
        for start, stop in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
    ]


def _mean_quality(recommender: Recommender, users: pd.DataFrame, metric: str, depth: int) -> float:
    per_user = ranking_quality(
        recommender, users["fold_in"].tolist(), users["target"].tolist(), ks=(depth,)
    )
    return float(per_user[metric].mean())


def _decision_metrics(decision: dict) -> dict:
    """Both models' scores (where measured) and the challenger's test metrics, for MLflow."""
    metrics = {"retraining/promoted": float(decision["promoted"])}
    for role in ("champion", "challenger"):
        if decision.get(f"{role}_metric") is not None:
            metrics[f"retraining/{role}_{decision['metric']}"] = decision[f"{role}_metric"]
    if decision.get("n_comparison_users") is not None:
        metrics["retraining/n_comparison_users"] = decision["n_comparison_users"]
    metrics.update(decision.get("test_metrics", {}))
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
