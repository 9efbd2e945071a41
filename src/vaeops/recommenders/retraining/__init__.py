"""Rules of scheduled retraining that need neither Kedro nor MLflow.

A retraining run must be safe to start from cron every night: it recognises
data it has already trained on (a fingerprint of the interactions), never
overlaps another run (an advisory lock the kernel releases when its holder
dies, so a killed run leaves no stale lock behind), compares a challenger with
the champion only when both serve the same contract (data, item ids, request
and answer fields, most of the catalogue), and promotes it only when it is
probably better on users neither model has seen (``compare_paired``). What it
decides follows from what it has found out so far (``retraining_outcome``).
"""

from vaeops.recommenders.retraining.comparison import comparison_scores, held_out_histories
from vaeops.recommenders.retraining.contract import (
    ServingContract,
    catalogue_overlap,
    contract_breaches,
    item_id_type,
)
from vaeops.recommenders.retraining.decision import (
    MIN_COMPARISON_USERS,
    Outcome,
    RetrainingFacts,
    decision_metrics,
    decision_record,
    retraining_outcome,
)
from vaeops.recommenders.retraining.fingerprint import interactions_fingerprint
from vaeops.recommenders.retraining.interactions import current_interactions
from vaeops.recommenders.retraining.lock import RetrainingInProgress, exclusive_lock
from vaeops.recommenders.retraining.settings import (
    RegistryParameters,
    RetrainingParameters,
    ServingParameters,
    metric_depth,
)

__all__ = [
    "MIN_COMPARISON_USERS",
    "Outcome",
    "RegistryParameters",
    "RetrainingFacts",
    "RetrainingInProgress",
    "RetrainingParameters",
    "ServingContract",
    "ServingParameters",
    "catalogue_overlap",
    "comparison_scores",
    "contract_breaches",
    "current_interactions",
    "decision_metrics",
    "decision_record",
    "exclusive_lock",
    "held_out_histories",
    "interactions_fingerprint",
    "item_id_type",
    "metric_depth",
    "retraining_outcome",
]
