"""The challenger against the champion on held-out users neither model has seen."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.splits import LiangSplit, held_out_user_ids
from vaeops.recommenders.retraining.decision import MIN_COMPARISON_USERS
from vaeops.recommenders.retraining.settings import metric_depth
from vaeops.recommenders.serving import Recommender, ranking_quality
from vaeops.statistics.paired_users import compare_paired

# The Bayesian bootstrap behind P(challenger better): fixed draws, so that the same
# scores always lead to the same decision. params:retraining carries no such keys.
BOOTSTRAP_SAMPLES = 20000
BOOTSTRAP_SEED = 0


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
        comparison = compare_paired(
            challenger_scores,
            champion_scores,
            rope=rope,
            n_samples=BOOTSTRAP_SAMPLES,
            seed=BOOTSTRAP_SEED,
        )
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
