"""What a retraining round decides follows from what it has found out so far: a run in
progress, no new data, a broken contract, fewer users, then the paired comparison."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vaeops.recommenders.retraining.contract import ServingContract, contract_breaches
from vaeops.recommenders.retraining.settings import RetrainingParameters

MIN_COMPARISON_USERS = 2  # the fewest paired users compare_paired accepts


@dataclass(frozen=True)
class RetrainingFacts:
    """What a retraining run has found out, in the order it finds it out; None marks
    what it has not measured (yet). A run's log line records all of it."""

    metric: str
    rope: float  # metric differences within +-rope count as ties
    promotion_probability: float  # the P(challenger better) a promotion needs
    min_catalogue_overlap: float
    force: bool = False
    allow_fewer_users: bool = False
    lock_refusal: str | None = None  # why the lock was refused, if another run holds it
    dataset_fingerprint: str | None = None
    n_interactions: int | None = None
    versions_on_same_data: tuple[str, ...] = ()  # registered versions trained on these rows
    champion_version: str | None = None
    champion_n_users: int | None = None
    n_users: int | None = None  # after filtering, by the split
    champion_contract: ServingContract | None = None
    challenger_contract: ServingContract | None = None  # measured with the split
    catalogue_overlap: float | None = None
    challenger_version: str | None = None
    test_metrics: dict[str, float] | None = None
    n_comparison_users: int | None = None
    champion_metric: float | None = None
    challenger_metric: float | None = None
    p_challenger_better: float | None = None

    @classmethod
    def from_parameters(cls, retraining: RetrainingParameters) -> RetrainingFacts:
        """The rules of params:retraining, before the run has found anything out."""
        return cls(
            metric=retraining.metric,
            rope=retraining.rope,
            promotion_probability=retraining.promotion_probability,
            min_catalogue_overlap=retraining.min_catalogue_overlap,
            force=retraining.force,
            allow_fewer_users=retraining.allow_fewer_users,
        )


@dataclass(frozen=True)
class Outcome:
    name: str
    reason: str

    @property
    def promoted(self) -> bool:
        return self.name in ("first_champion", "promoted")


def retraining_outcome(facts: RetrainingFacts) -> Outcome | None:
    """The outcome the facts settle, or None while the run has yet to split the data
    (``n_users``) or to train, register and score a challenger (``challenger_version``)."""
    if facts.lock_refusal is not None:
        return Outcome("locked", facts.lock_refusal)
    # Without a champion (none yet, or its alias deleted) the round trains one, even on
    # data a version was trained on before.
    if facts.versions_on_same_data and facts.champion_version is not None and not facts.force:
        versions = ", ".join(sorted(facts.versions_on_same_data))
        return Outcome(
            "no_new_data",
            f"no new data: version(s) {versions} were trained on these exact interactions; "
            "nothing registered (set retraining.force=true to retrain anyway)",
        )
    if facts.n_users is None:
        return None
    if outcome := _refusal_of_the_data(facts):
        return outcome
    if facts.challenger_version is None:
        return None
    return _verdict(facts)


def _refusal_of_the_data(facts: RetrainingFacts) -> Outcome | None:
    """Data the champion's clients could not use, or fewer users than it trained on."""
    if facts.champion_version is not None and (
        breaches := contract_breaches(
            facts.champion_contract,
            facts.challenger_contract,
            facts.catalogue_overlap,
            facts.min_catalogue_overlap,
        )
    ):
        return Outcome(
            "incompatible",
            f"a model of these data cannot replace champion version {facts.champion_version}: "
            f"{'; '.join(breaches)}. Champion kept, nothing trained or registered; to switch "
            "data, register a model with `kedro run` and move the champion alias to it by hand",
        )
    if (
        facts.champion_version is not None
        and facts.n_users < facts.champion_n_users
        and not facts.allow_fewer_users
    ):
        return Outcome(
            "refused_fewer_users",
            f"the data have {facts.n_users} users after filtering but the champion was "
            f"trained on {facts.champion_n_users}; refusing to train on less data (set "
            "retraining.allow_fewer_users=true if the shrink is intended)",
        )
    return None


def _verdict(facts: RetrainingFacts) -> Outcome:
    """The trained, registered and scored challenger: the first champion, promoted, or not."""
    if facts.champion_version is None:
        if not np.isfinite(facts.challenger_metric):
            return Outcome(
                "first_model_invalid",
                f"no champion yet, but the first model's {facts.metric} is not finite; none set",
            )
        return Outcome(
            "first_champion",
            f"no champion yet: version {facts.challenger_version} becomes champion",
        )
    if facts.p_challenger_better is None:
        return Outcome(
            "kept_champion",
            f"{facts.n_comparison_users} held-out user(s) of the new split are fresh (neither "
            "model trained or validated on them); a fair comparison needs at least "
            f"{MIN_COMPARISON_USERS}; champion kept",
        )
    comparison = (
        f"P(challenger better) = {facts.p_challenger_better:.3f} (ROPE +-{facts.rope}; "
        f"{facts.metric} {facts.challenger_metric:.4f} vs champion {facts.champion_metric:.4f}) "
        f"on {facts.n_comparison_users} fresh held-out users"
    )
    if facts.p_challenger_better >= facts.promotion_probability:
        return Outcome(
            "promoted",
            f"{comparison}, at least {facts.promotion_probability}: version "
            f"{facts.challenger_version} is the new champion",
        )
    return Outcome(
        "kept_champion",
        f"{comparison}, below {facts.promotion_probability}: champion version "
        f"{facts.champion_version} kept",
    )


def decision_record(facts: RetrainingFacts, outcome: Outcome, **run: Any) -> dict:
    """The ``run``'s particulars, the facts and the outcome: one line of the retraining log."""
    return {
        **run,
        **asdict(facts),
        "outcome": outcome.name,
        "promoted": outcome.promoted,
        "reason": outcome.reason,
    }


def decision_metrics(facts: RetrainingFacts, outcome: Outcome) -> dict[str, float]:
    """Both models' scores (where measured) and the challenger's test metrics, for MLflow."""
    metrics = {"retraining/promoted": float(outcome.promoted)}
    for role, score in (
        ("champion", facts.champion_metric),
        ("challenger", facts.challenger_metric),
    ):
        if score is not None:
            metrics[f"retraining/{role}_{facts.metric}"] = score
    for name in ("n_comparison_users", "p_challenger_better", "catalogue_overlap"):
        if (value := getattr(facts, name)) is not None:
            metrics[f"retraining/{name}"] = value
    metrics.update(facts.test_metrics or {})
    return metrics
