"""Scheduled retraining: train a challenger on the current data, promote it only if it wins.

One use case under an exclusive lock, because its steps are conditional (a run in
progress, no new data, data the champion's clients could not use, fewer users)
and must not overlap another run. Each step adds facts; ``retraining_outcome``
says whether they settle the round. Nothing touches the registry until training
and evaluation have finished, so a run killed midway leaves it as it was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timezone

import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from vaeops.adapters.mlflow.registry import (
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    ServedVersion,
    TrainedRecommender,
    contract_facts,
    scores_against,
    version_tags,
)
from vaeops.adapters.mlflow.tracking import active_run_id, metric_history
from vaeops.data.settings import DatasetParameters, PreprocessingParameters
from vaeops.data.splits import LiangSplit, liang_split, split_summary
from vaeops.jobs.training import train_from_parameters
from vaeops.recommenders.evaluation import evaluate_beside_popularity, named_metrics, summaries
from vaeops.recommenders.models import saved_config
from vaeops.recommenders.retraining import (
    Outcome,
    RegistryParameters,
    RetrainingFacts,
    RetrainingInProgress,
    RetrainingParameters,
    ServingParameters,
    decision_metrics,
    decision_record,
    exclusive_lock,
    held_out_histories,
    interactions_fingerprint,
    retraining_outcome,
)
from vaeops.recommenders.settings import EvaluationParameters, TrainingParameters

logger = logging.getLogger(__name__)


def retrain_and_decide(
    interactions: pd.DataFrame,
    preprocessing: PreprocessingParameters,
    training: TrainingParameters,
    evaluation: EvaluationParameters,
    dataset: DatasetParameters,
    registry: RegistryParameters,
    retraining: RetrainingParameters,
) -> dict:
    """Run one retraining round unless another is in progress; report what was decided."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rules = RetrainingFacts.from_parameters(retraining)
    try:
        with exclusive_lock(retraining.lock_file):
            facts, outcome = _retrain(
                rules, interactions, preprocessing, training, evaluation, dataset, registry
            )
    except RetrainingInProgress as busy:
        logger.warning(str(busy))
        facts = replace(rules, lock_refusal=str(busy))
        outcome = retraining_outcome(facts)
    decision = decision_record(
        facts, outcome, started=started, model_name=registry.model_name, run_id=active_run_id()
    )
    logger.info("Retraining decision: %s (%s)", outcome.name, outcome.reason)
    return {
        "decision": decision,
        "log_line": json.dumps(decision, sort_keys=True) + "\n",
        "metrics": metric_history(decision_metrics(facts, outcome)),
        "tags": {"retraining.outcome": outcome.name, "retraining.reason": outcome.reason},
    }


def _retrain(
    facts: RetrainingFacts,
    interactions: pd.DataFrame,
    preprocessing: PreprocessingParameters,
    training: TrainingParameters,
    evaluation: EvaluationParameters,
    dataset: DatasetParameters,
    registry: RegistryParameters,
) -> tuple[RetrainingFacts, Outcome]:
    """Add the facts step by step, stopping at the first step whose facts settle the round."""
    models = ModelRegistry(registry.model_name)
    champion = models.version(CHAMPION)
    fingerprint = interactions_fingerprint(interactions)
    facts = replace(
        facts,
        dataset_fingerprint=fingerprint,
        n_interactions=len(interactions),
        **models.facts_about(champion, fingerprint),
    )
    if outcome := retraining_outcome(facts):
        return facts, outcome

    served = models.served(champion) if champion else None
    split = liang_split(interactions, preprocessing)
    summary = split_summary(split)
    facts = replace(
        facts,
        n_users=summary["total"]["users"],
        **contract_facts(served, dataset, split.item_map),
    )
    if outcome := retraining_outcome(facts):
        return facts, outcome

    candidate, test_metrics, kind = _train_candidate(split, training, evaluation)
    challenger = models.register(
        candidate,
        tags=version_tags(dataset, interactions, summary, kind, test_metrics, facts.metric),
        serving=registry.serving,
        aliases=(CHALLENGER,),
    )
    facts = _scored(facts, split, candidate, registry.serving, served, challenger, test_metrics)
    outcome = retraining_outcome(facts)
    if outcome.promoted:
        models.set_alias(CHAMPION, challenger.version)
    return facts, outcome


def _train_candidate(
    split: LiangSplit, training: TrainingParameters, evaluation: EvaluationParameters
) -> tuple[TrainedRecommender, dict[str, float], str]:
    """The challenger trained on the new split, its test metrics and its model kind."""
    result = train_from_parameters(
        split.train,
        split.validation_fold_in,
        split.validation_target,
        training,
    )
    model_config = saved_config(result.model)
    candidate = TrainedRecommender(
        result.model.state_dict(),
        model_config,
        split.item_map,
        split.train,
        split.user_map,
    )
    evaluations = evaluate_beside_popularity(
        candidate.weights,
        candidate.model_config,
        split.train,
        split.test_fold_in,
        split.test_target,
        evaluation,
    )
    kind = model_config["kind"]
    return candidate, named_metrics(summaries(evaluations), kind), kind


def _scored(
    facts: RetrainingFacts,
    split: LiangSplit,
    candidate: TrainedRecommender,
    serving: ServingParameters,
    served: ServedVersion | None,
    challenger: ModelVersion,
    test_metrics: dict[str, float],
) -> RetrainingFacts:
    """The facts with the registered challenger, served with ``serving`` as registered,
    scored against the champion."""
    held_out = held_out_histories(split, candidate.item_ids().to_numpy())
    scores = scores_against(
        served, candidate.recommender(serving), held_out, facts.metric, facts.rope
    )
    return replace(
        facts, challenger_version=challenger.version, test_metrics=test_metrics, **scores
    )
