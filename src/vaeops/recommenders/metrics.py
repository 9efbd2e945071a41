"""Ranking metrics of the Mult-VAE paper, computed per user on the device.

NDCG@K divides by the ideal DCG truncated at ``min(K, n_targets)`` and Recall@K
by ``min(K, n_targets)``, as in the authors' code, so a user with 3 targets who
gets all 3 in the top 20 scores Recall@20 = 1. Papers that follow the LightGCN
code divide hits by ``n_targets`` instead; that figure is reported beside it as
``uncapped_recall_at_K``, because the two differ for every user with more than
K targets and a published number is only comparable to its own definition.
Users without targets have no defined metric and are left out; evaluation
reports how many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from vaeops.data.sparse import DeviceCSR, SparseBatch

Scorer = Callable[[SparseBatch], torch.Tensor | np.ndarray]
# Each is reported as "<name>_at_<K>" for every cut-off K of an evaluation.
RANKING_METRICS = ("ndcg", "recall", "uncapped_recall")


def metric_names(ks: Sequence[int]) -> set[str]:
    """The per-user metrics that ``evaluate`` reports for cut-offs ``ks``."""
    return {f"{metric}_at_{k}" for metric in RANKING_METRICS for k in ks}


def scipy_scorer(recommender) -> Scorer:
    """Adapt a ``score(fold_in_csr) -> ndarray`` recommender to ``evaluate``."""
    return lambda batch: recommender.score(batch.to_scipy())


def masked_top_k(scores: torch.Tensor, exclude: SparseBatch, k: int) -> torch.Tensor:
    """Indices of the k best items per row, never returning an excluded item."""
    scores = scores.float().clone()
    scores[exclude.row_of_value, exclude.columns] = -torch.inf
    return torch.topk(scores, k=min(k, scores.shape[1]), dim=1, sorted=True).indices


def ranking_metrics(
    top_items: torch.Tensor, targets: SparseBatch, ks: Sequence[int]
) -> dict[str, torch.Tensor]:
    """Per-row ``ndcg_at_K``, ``recall_at_K`` and ``uncapped_recall_at_K`` for rows
    ranked by ``top_items``.

    ``top_items`` holds the ranked items, best first; a K beyond the number of
    ranked items counts them all. Rows without any target get NaN.
    """
    n_targets = torch.zeros(targets.n_rows, device=top_items.device).index_add_(
        0, targets.row_of_value, torch.ones_like(targets.values)
    )
    is_target = torch.zeros(
        targets.n_rows, targets.n_cols, dtype=torch.bool, device=top_items.device
    )
    is_target[targets.row_of_value, targets.columns] = True
    hits = is_target.gather(1, top_items).float()
    n_ranked = top_items.shape[1]
    discount = 1.0 / torch.log2(
        torch.arange(2, n_ranked + 2, device=top_items.device, dtype=torch.float32)
    )
    ideal_prefix = torch.cumsum(discount, dim=0)
    no_targets = n_targets == 0
    results: dict[str, torch.Tensor] = {}
    for k in ks:
        depth = min(k, n_ranked)
        capped = torch.clamp(n_targets, max=depth)
        idcg = ideal_prefix[(capped.long() - 1).clamp_min(0)]
        ndcg = (hits[:, :depth] * discount[:depth]).sum(dim=1) / idcg
        hit_count = hits[:, :depth].sum(dim=1)
        results[f"ndcg_at_{k}"] = ndcg.masked_fill(no_targets, float("nan"))
        results[f"recall_at_{k}"] = (hit_count / capped.clamp_min(1)).masked_fill(
            no_targets, float("nan")
        )
        results[f"uncapped_recall_at_{k}"] = (hit_count / n_targets.clamp_min(1)).masked_fill(
            no_targets, float("nan")
        )
    return results


@dataclass
class Evaluation:
    """Per-user metrics of one recommender on one held-out split.

    ``rows`` are the row indices (in the split's matrices) of the users that had
    targets; ``per_user[name]`` is aligned with ``rows`` so two evaluations on
    the same split can be paired user by user.
    """

    rows: np.ndarray
    per_user: dict[str, np.ndarray]
    n_users_without_targets: int

    def summary(self) -> dict[str, float]:
        return {name: float(values.mean()) for name, values in self.per_user.items()}


def evaluate(
    scorer: Scorer,
    fold_in: sp.csr_matrix | DeviceCSR,
    target: sp.csr_matrix | DeviceCSR,
    ks: Sequence[int],
    batch_size: int,
    device: torch.device | str = "cpu",
) -> Evaluation:
    """Rank all items for each held-out user, fold-in items excluded, and score the targets."""
    fold_in = fold_in if isinstance(fold_in, DeviceCSR) else DeviceCSR(fold_in, device)
    target = target if isinstance(target, DeviceCSR) else DeviceCSR(target, fold_in.device)
    if fold_in.shape != target.shape:
        raise ValueError(
            f"fold-in {fold_in.shape} and target {target.shape} matrices must have the same shape."
        )
    chunks: dict[str, list[torch.Tensor]] = {}
    for start in range(0, fold_in.shape[0], batch_size):
        history = fold_in.rows(start, start + batch_size)
        scores = torch.as_tensor(scorer(history), device=fold_in.device)
        top = masked_top_k(scores, history, max(ks))
        for name, values in ranking_metrics(
            top, target.rows(start, start + batch_size), ks
        ).items():
            chunks.setdefault(name, []).append(values)
    per_user = {name: torch.cat(parts).cpu().numpy() for name, parts in chunks.items()}
    has_targets = ~np.isnan(next(iter(per_user.values())))
    return Evaluation(
        rows=np.flatnonzero(has_targets),
        per_user={name: values[has_targets] for name, values in per_user.items()},
        n_users_without_targets=int((~has_targets).sum()),
    )
