"""Recommendations for any click history, known user or not, by Mult-VAE fold-in.

A Mult-VAE encodes a whole history into a latent user, so a user never seen in
training is served by encoding their history at request time: no retraining
and no per-user state. Requests and answers speak the original item ids of the
raw data; columns are an internal detail. A history with no item the model
knows (empty, or only new items) gets the most popular items instead, flagged
as a fallback, and unknown items are counted in the answer, never an error.
Every answer that is not a personal list of k items says why (``reason``), so a
client never has to guess what a short or empty list means. A request may hold
at most ``max_histories`` histories of at most ``max_history_length`` items, which
bounds the work one request can ask of a server.

``ranking_quality`` scores any such recommender on held-out users given as
original ids, so that two models trained on different item catalogues (a
champion and its challenger) are compared on the same users and targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

from vaeops.data.sparse import DeviceCSR, binary_csr, resolve_device
from vaeops.errors import DataError
from vaeops.recommenders.metrics import ranking_metrics
from vaeops.recommenders.models import MultDAE, MultVAE, load_model


@dataclass(frozen=True)
class Request:
    """One user's history (original item ids); ``k=None`` asks for the recommender's default."""

    history: Sequence
    k: int | None = None
    exclude_seen: bool = True


@dataclass(frozen=True)
class Recommendation:
    """Top items (original ids, best first) with their scores.

    Model scores are the multinomial probabilities of the Mult-VAE decoder;
    fallback scores are each item's share of all training clicks, so both read
    as "probability of the next click". ``reason`` is None for a personal
    answer of k items and says why otherwise.
    """

    items: list
    scores: list[float]
    fallback: bool
    n_unknown_items: int
    reason: str | None


EMPTY_HISTORY = "empty history: most popular items"
NO_KNOWN_ITEM = "no history item is known to the model: most popular items"
WHOLE_CATALOGUE = "the history covers the whole catalogue: nothing left to recommend"


class Recommender:
    """A trained autoencoder with its item ids and training popularity, ready to answer requests.

    ``item_ids[c]`` is the original id of model column ``c``; ``popularity[c]``
    counts the training users who clicked it.
    """

    def __init__(
        self,
        model: MultVAE | MultDAE,
        item_ids: Sequence,
        popularity: np.ndarray,
        default_k: int,
        max_k: int,
        max_histories: int,
        max_history_length: int,
        batch_size: int = 1000,
        device: str = "cpu",
    ):
        item_ids = np.asarray(item_ids)
        popularity = np.asarray(popularity, dtype=np.float64)
        n_items = model.n_items
        if item_ids.shape != (n_items,) or popularity.shape != (n_items,):
            raise DataError(
                f"the model has {n_items} item columns but got {item_ids.size} item ids and "
                f"{popularity.size} popularity counts; pass the item map and training matrix "
                "of the split the model was trained on."
            )
        if len(set(item_ids.tolist())) != n_items:
            raise DataError("item_ids repeat an id; each model column needs its own original id.")
        if not 1 <= default_k <= max_k:
            raise DataError(f"default_k={default_k} must lie in 1..max_k (max_k={max_k}).")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.item_ids = item_ids
        self._column_of = {item: column for column, item in enumerate(item_ids.tolist())}
        self._popularity_share = popularity / max(popularity.sum(), 1.0)
        self._popularity_order = np.argsort(-popularity, kind="stable")
        self.default_k = default_k
        self.max_k = max_k
        self.max_histories = max_histories
        self.max_history_length = max_history_length
        self.batch_size = batch_size

    @classmethod
    def from_weights(
        cls,
        weights: dict[str, torch.Tensor],
        model_config: dict,
        item_ids: Sequence,
        popularity: np.ndarray,
        **settings,
    ) -> Recommender:
        return cls(load_model(model_config, weights), item_ids, popularity, **settings)

    def recommend(self, requests: Sequence[Request]) -> list[Recommendation]:
        """Answer each request; raises DataError naming the first malformed or oversized one."""
        if len(requests) > self.max_histories:
            raise DataError(
                f"the request holds {len(requests)} histories; at most {self.max_histories} "
                "are answered per request. Split it into several requests."
            )
        histories = [
            self._checked_history(request.history, position)
            for position, request in enumerate(requests)
        ]
        ks = [self._checked_k(request.k, position) for position, request in enumerate(requests)]
        exclude_seen = [
            self._checked_exclude_seen(request.exclude_seen, position)
            for position, request in enumerate(requests)
        ]
        known = [self._columns(history) for history in histories]
        return self._top_items(
            [columns for columns, _ in known],
            [n_unknown for _, n_unknown in known],
            ks,
            exclude_seen,
            empty=[not history for history in histories],
        )

    def _checked_history(self, history, position: int) -> list:
        if isinstance(history, (str, bytes)) or not isinstance(history, (Sequence, np.ndarray)):
            raise DataError(
                f"request {position}: history must be a list of item ids, got "
                f"{type(history).__name__}; send e.g. [50, 172, 181] (an empty list is allowed)."
            )
        if len(history) > self.max_history_length:
            raise DataError(
                f"request {position}: the history holds {len(history)} items; at most "
                f"{self.max_history_length} are accepted. Send the most recent ones."
            )
        return _as_list(history)

    def _checked_k(self, k, position: int) -> int:
        if k is None:
            return self.default_k
        if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= self.max_k:
            raise DataError(
                f"request {position}: k={k!r} is invalid; k must be an integer from 1 to "
                f"{self.max_k}, or left out for the default {self.default_k}."
            )
        return int(k)

    @staticmethod
    def _checked_exclude_seen(exclude_seen, position: int) -> bool:
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise DataError(
                f"request {position}: exclude_seen={exclude_seen!r} is invalid; send true or "
                "false, or leave it out for the default (true)."
            )
        return bool(exclude_seen)

    def _columns(self, history: list) -> tuple[np.ndarray, int]:
        """Model columns of the known items (deduplicated) and the number of unknown entries."""
        columns, n_unknown = [], 0
        for item in history:
            column = self._column_of.get(item)
            if column is None:
                n_unknown += 1
            else:
                columns.append(column)
        return np.unique(np.asarray(columns, dtype=np.int64)), n_unknown

    def _top_items(
        self,
        columns: list[np.ndarray],
        n_unknown: list[int],
        ks: list[int],
        exclude_seen: list[bool],
        empty: list[bool],
    ) -> list[Recommendation]:
        answers: list[Recommendation | None] = [None] * len(columns)
        personal = [i for i, row in enumerate(columns) if row.size]
        for i, row in enumerate(columns):
            if not row.size:
                top = self._popularity_order[: ks[i]]
                answers[i] = Recommendation(
                    items=self.item_ids[top].tolist(),
                    scores=self._popularity_share[top].tolist(),
                    fallback=True,
                    n_unknown_items=n_unknown[i],
                    reason=EMPTY_HISTORY if empty[i] else NO_KNOWN_ITEM,
                )
        for start in range(0, len(personal), self.batch_size):
            chunk = personal[start : start + self.batch_size]
            probabilities = self._probabilities([columns[i] for i in chunk])
            for row, i in enumerate(chunk):
                scores = probabilities[row]
                if exclude_seen[i]:
                    scores[columns[i]] = -np.inf
                k = min(ks[i], int(np.isfinite(scores).sum()))
                top = np.argpartition(-scores, k - 1)[:k] if k else np.empty(0, dtype=np.int64)
                top = top[np.argsort(-scores[top], kind="stable")]
                answers[i] = Recommendation(
                    items=self.item_ids[top].tolist(),
                    scores=scores[top].astype(float).tolist(),
                    fallback=False,
                    n_unknown_items=n_unknown[i],
                    reason=_shortfall(k, ks[i], exclude_seen[i]),
                )
        return answers

    @torch.no_grad()
    def _probabilities(self, rows: list[np.ndarray]) -> np.ndarray:
        """Fold-in: the decoder's softmax at the mean latent of each history."""
        histories = binary_csr(*_row_column_pairs(rows), (len(rows), self.model.n_items))
        batch = DeviceCSR(histories, self.device).rows(0, histories.shape[0])
        logits = self.model.score(batch).float()
        return torch.softmax(logits, dim=1).cpu().numpy()


def _shortfall(n_items: int, k: int, exclude_seen: bool) -> str | None:
    """Why a personal answer holds fewer than the ``k`` items asked for (None if it does not)."""
    if n_items == k:
        return None
    if n_items == 0:
        return WHOLE_CATALOGUE
    if exclude_seen:
        return f"the history leaves {n_items} of the catalogue's items to recommend"
    return f"k exceeds the catalogue's {n_items} items"


def _as_list(ids) -> list:
    """Ids as Python values: numpy scalars hash like the map's keys, and a list is
    taken as given, so a mix of ids is never coerced to one type (as np.asarray would)."""
    return ids.tolist() if isinstance(ids, np.ndarray) else list(ids)


def _row_column_pairs(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) pairs of one column array per row."""
    lengths = [row.size for row in rows]
    return np.repeat(np.arange(len(rows)), lengths), np.concatenate([np.empty(0, np.int64), *rows])


def ranking_quality(
    recommender: Recommender,
    fold_in: Sequence[Sequence],
    targets: Sequence[Sequence],
    ks: Sequence[int] = (100,),
) -> dict[str, np.ndarray]:
    """Per-user ``ndcg_at_K`` and ``recall_at_K`` of ``recommender`` on histories in original ids.

    Each user's fold-in items are excluded from the ranking, as in the paper's
    protocol; a target item the recommender does not know simply cannot be
    ranked, which is the cost of an outdated catalogue. Every user needs at
    least one target.
    """
    if len(fold_in) != len(targets):
        raise DataError(f"{len(fold_in)} fold-in histories but {len(targets)} target lists.")
    if any(len(target) == 0 for target in targets):
        raise DataError("every evaluated user needs at least one target item.")
    depth = max(ks)
    known = [recommender._columns(_as_list(history)) for history in fold_in]
    ranked = recommender._top_items(
        [columns for columns, _ in known],
        [n_unknown for _, n_unknown in known],
        [depth] * len(fold_in),
        [True] * len(fold_in),
        empty=[len(history) == 0 for history in fold_in],
    )
    # One shared column per target item, plus a last column for every other item,
    # which is never a target: rankings of both models index the same space.
    target_ids = list(dict.fromkeys(item for target in targets for item in _as_list(target)))
    column_of_target = {item: column for column, item in enumerate(target_ids)}
    other = len(target_ids)
    top = torch.full((len(ranked), depth), other, dtype=torch.int64)
    for row, answer in enumerate(ranked):
        top[row, : len(answer.items)] = torch.tensor(
            [column_of_target.get(item, other) for item in answer.items], dtype=torch.int64
        )
    target_rows = [
        np.unique([column_of_target[item] for item in _as_list(target)]) for target in targets
    ]
    target_matrix = binary_csr(*_row_column_pairs(target_rows), (len(target_rows), other + 1))
    target_batch = DeviceCSR(target_matrix).rows(0, target_matrix.shape[0])
    return {name: values.numpy() for name, values in ranking_metrics(top, target_batch, ks).items()}
