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

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.ingest import (
    INTERACTION_COLUMNS,
    load_configured,
    load_interactions,
    merge_duplicates,
)
from vaeops.data.settings import DatasetParameters
from vaeops.data.splits import LiangSplit, held_out_user_ids
from vaeops.errors import DataError
from vaeops.files import LockHeld, hold_exclusive_lock, release_lock
from vaeops.recommenders.serving import Recommender, ranking_quality
from vaeops.statistics.paired_users import compare_paired

logger = logging.getLogger(__name__)


class RetrainingInProgress(RuntimeError):
    """Another process holds the retraining lock."""


def interactions_fingerprint(interactions: pd.DataFrame) -> str:
    """sha256 of the interactions as a set of rows: the same rows in any order match.

    Every column counts (a changed rating is new data); rows are hashed with
    pandas' fixed-key row hash, then sorted, so appending rows in another
    order or re-reading the file gives the same fingerprint.
    """
    columns = sorted(interactions.columns)
    row_hashes = pd.util.hash_pandas_object(interactions[columns], index=False).to_numpy()
    digest = hashlib.sha256(",".join(columns).encode())
    digest.update(np.sort(row_hashes).tobytes())
    return digest.hexdigest()


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration, or raise RetrainingInProgress
    naming the run that holds it (``hold_exclusive_lock``)."""
    try:
        lock = hold_exclusive_lock(path)
    except LockHeld as held:
        raise RetrainingInProgress(
            f"another retraining run is in progress ({held.holder}; lock {held.path}); this "
            "run does nothing. Wait for it to finish, or schedule runs further apart."
        ) from None
    try:
        yield
    finally:
        release_lock(lock)


_METRIC = re.compile(r"(ndcg|recall)_at_([1-9][0-9]*)")


def metric_depth(metric: str) -> int:
    """The K of ``ndcg_at_K`` or ``recall_at_K``, the metrics a promotion can be decided on."""
    match = _METRIC.fullmatch(metric)
    if match is None:
        raise DataError(
            f"retraining.metric={metric!r} is not supported; use ndcg_at_K or recall_at_K "
            "with a positive K, e.g. ndcg_at_100 (the paper's headline metric)."
        )
    return int(match.group(2))


MIN_COMPARISON_USERS = 2  # the fewest paired users compare_paired accepts


@dataclass(frozen=True)
class ServingContract:
    """What the clients of a served model rely on: the data it speaks for (a named
    dataset, or a custom file by its path), the type of its item ids and the fields of
    its requests and answers (its MLflow signature, as ``name: type`` lines)."""

    dataset: str
    dataset_path: str | None  # custom data only
    item_id_type: str  # "int" or "str"
    request_fields: tuple[str, ...]
    answer_fields: tuple[str, ...]

    def data(self) -> str:
        return f"{self.dataset} data at {self.dataset_path}" if self.dataset_path else self.dataset


def item_id_type(item_ids: Sequence) -> str:
    return "int" if pd.api.types.is_integer_dtype(np.asarray(item_ids)) else "str"


def catalogue_overlap(champion_items: Sequence, challenger_items: Sequence) -> float:
    """The share of the champion's items that the challenger knows."""
    champion_items = pd.Index(champion_items)
    return float(champion_items.isin(pd.Index(challenger_items)).mean())


def contract_breaches(
    champion: ServingContract,
    challenger: ServingContract,
    overlap: float,
    min_overlap: float,
) -> list[str]:
    """How serving ``challenger`` in place of ``champion`` would break its clients.

    Answers may gain fields (clients ignore what they do not read) but not lose or
    change one; requests must stay as they are.
    """
    breaches = []
    if challenger.data() != champion.data():
        breaches.append(
            f"the champion was trained on {champion.data()}, the challenger on {challenger.data()}"
        )
    if challenger.item_id_type != champion.item_id_type:
        breaches.append(
            f"the challenger's item ids are {challenger.item_id_type}, the champion's "
            f"{champion.item_id_type}"
        )
    if challenger.request_fields != champion.request_fields:
        breaches.append(
            f"requests would change from [{', '.join(champion.request_fields)}] to "
            f"[{', '.join(challenger.request_fields)}]"
        )
    if lost := [field for field in champion.answer_fields if field not in challenger.answer_fields]:
        breaches.append(f"answers would lose or change [{', '.join(lost)}]")
    if overlap < min_overlap:
        breaches.append(
            f"the challenger knows {overlap:.1%} of the champion's items, less than "
            f"retraining.min_catalogue_overlap={min_overlap}"
        )
    return breaches


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

    def __post_init__(self) -> None:
        metric_depth(self.metric)

    @classmethod
    def from_parameters(cls, retraining: Mapping[str, Any]) -> RetrainingFacts:
        """The rules of params:retraining, before the run has found anything out."""
        return cls(
            metric=retraining["metric"],
            rope=retraining["rope"],
            promotion_probability=retraining["promotion_probability"],
            min_catalogue_overlap=retraining["min_catalogue_overlap"],
            force=retraining["force"],
            allow_fewer_users=retraining["allow_fewer_users"],
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
    if facts.challenger_version is None:
        return None
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


def comparison_scores(
    held_out: pd.DataFrame,
    metric: str,
    rope: float,
    challenger: Recommender,
    champion: Recommender | None = None,
    champion_seen_users: Sequence = (),
) -> dict[str, float | int | None]:
    """Both models' mean ``metric`` on the fresh held-out users and P(challenger better).

    Fresh users are the new split's held-out users the champion neither trained nor
    was validated on (either would flatter it); the split keeps them from the
    challenger's training and validation. With no champion, the challenger's mean
    on all held-out users.
    """
    fresh = held_out[~held_out["user"].isin(champion_seen_users)]
    scores = {
        "n_comparison_users": len(fresh),
        "champion_metric": None,
        "challenger_metric": None,
        "p_challenger_better": None,
    }
    if champion is not None and fresh.empty:
        return scores
    challenger_scores = _per_user_quality(challenger, fresh, metric)
    scores["challenger_metric"] = float(challenger_scores.mean())
    if champion is None:
        return scores
    champion_scores = _per_user_quality(champion, fresh, metric)
    scores["champion_metric"] = float(champion_scores.mean())
    if len(fresh) >= MIN_COMPARISON_USERS:
        comparison = compare_paired(challenger_scores, champion_scores, rope=rope)
        scores["p_challenger_better"] = comparison.p_a_better
    return scores


def _per_user_quality(recommender: Recommender, users: pd.DataFrame, metric: str) -> np.ndarray:
    per_user = ranking_quality(
        recommender, users["fold_in"].tolist(), users["target"].tolist(), ks=(metric_depth(metric),)
    )
    return per_user[metric]


def held_out_histories(split: LiangSplit, item_ids: np.ndarray) -> pd.DataFrame:
    """The split's test users with targets: user, fold_in and target as original item ids.

    ``item_ids[c]`` is the original id of column ``c``.
    """
    frame = pd.DataFrame(
        {
            "user": held_out_user_ids(split.user_map),
            "fold_in": _rows_as_ids(split.test_fold_in, item_ids),
            "target": _rows_as_ids(split.test_target, item_ids),
        }
    )
    return frame[np.diff(split.test_target.indptr) > 0].reset_index(drop=True)


def _rows_as_ids(matrix: sp.csr_matrix, ids: np.ndarray) -> list[np.ndarray]:
    return [
        ids[matrix.indices[start:stop]]
        for start, stop in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
    ]


def current_interactions(dataset: dict, extra_files: Sequence[str] | None) -> pd.DataFrame:
    """The dataset as configured plus ``extra_files``, repeated pairs merged.

    Extra files of a custom dataset have its columns (``dataset.columns``); for a
    named dataset they use the standard names user, item[, rating][, timestamp].
    """
    interactions = load_configured(DatasetParameters.model_validate(dataset))
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
        extra = load_interactions(
            "custom",
            raw_dir=dataset["raw_dir"],
            path=path,
            columns=columns,
            separator=dataset.get("separator") if dataset["name"] == "custom" else None,
        )
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
