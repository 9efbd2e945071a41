"""Non-neural recommenders scored with the same evaluation code as Mult-VAE.

Every recommender follows one interface so that evaluation, benchmarks and
serving treat them alike: ``fit(train_csr)`` learns from the training users,
``score(fold_in_csr)`` returns a dense ``(n_rows, n_items)`` float32 array of
scores for held-out users given only their fold-in items. Evaluation masks the
fold-in items itself, so ``score`` need not.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from vaeops.errors import DataError

logger = logging.getLogger(__name__)

# Upper bound on the elements of one temporary block (64 MiB of float32), so that
# ItemKNN and ALS work in bounded memory whatever the catalogue size.
_BLOCK_ELEMENTS = 1 << 24


def _interactions(matrix: sp.spmatrix, name: str) -> sp.csr_matrix:
    """A private float32 CSR copy, so that fitting never mutates the caller's matrix."""
    if not sp.issparse(matrix) or len(matrix.shape) != 2:
        raise DataError(
            f"{name} must be a 2-D scipy.sparse matrix of users x items, got "
            f"{type(matrix).__name__}; build one with scipy.sparse.csr_matrix("
            "(values, (user_index, item_index)), shape=(n_users, n_items))."
        )
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()  # a stored zero is not a click
    if csr.shape[1] == 0:
        raise DataError(f"{name} has no item columns; every recommender needs a catalogue.")
    if not np.isfinite(csr.data).all() or (csr.data < 0).any():
        raise DataError(
            f"{name} holds negative, NaN or infinite values; interactions must be "
            "non-negative (1.0 for a click). Binarise or clean the matrix first."
        )
    return csr


def _fold_in(matrix: sp.spmatrix, n_items: int) -> sp.csr_matrix:
    fold_in = _interactions(matrix, "fold_in")
    if fold_in.shape[1] != n_items:
        raise DataError(
            f"fold_in has {fold_in.shape[1]} item columns but the model was fitted on "
            f"{n_items}; index fold-in items with the training item index."
        )
    return fold_in


class Popularity:
    """Most-popular items: the floor every personalised model must beat."""

    def fit(self, train: sp.csr_matrix) -> Popularity:
        train = _interactions(train, "train")
        self.item_counts_ = np.asarray((train > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        fold_in = _fold_in(fold_in, self.item_counts_.size)
        return np.broadcast_to(self.item_counts_, (fold_in.shape[0], self.item_counts_.size)).copy()


def _sweep_block(n_items: int) -> int:
    """Pivot block of the in-place inverse: its ``n_items x block`` panels stay within budget."""
    return max(1, min(n_items, _BLOCK_ELEMENTS // n_items))


def ease_memory_bytes(n_items: int) -> int:
    """Peak memory of ``EASE.fit`` beyond its input.

    The Gram matrix is inverted and turned into the weights in place, so EASE
    allocates one dense float32 item-item matrix plus two ``n_items x block``
    panels and a few ``block x block`` pivots.
    """
    block = _sweep_block(n_items)
    elements = n_items * n_items + 2 * n_items * block + 4 * block * block
    return elements * np.dtype(np.float32).itemsize


def available_memory_bytes() -> int:
    """Memory the process can still allocate.

    ``MemAvailable`` counts reclaimable page cache, which free memory alone
    misses; where there is no ``/proc`` (macOS) total physical memory is the
    best cheap bound.
    """
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _readable_bytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.1f} MB"


def _mirror_lower_triangle(matrix: np.ndarray) -> None:
    """Copy the lower triangle onto the upper one in row blocks, without an n x n temporary."""
    n = matrix.shape[0]
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        matrix[start:stop, stop:] = matrix[stop:, start:stop].T
        tile = matrix[start:stop, start:stop]
        strictly_upper = np.triu_indices(stop - start, 1)
        tile[strictly_upper] = tile.T[strictly_upper]


def _invert_in_place(matrix: np.ndarray) -> None:
    """Overwrite the symmetric positive definite ``matrix`` with its inverse.

    A blocked sweep (Goodnight 1979) needs only two ``n x block`` panels beside
    the matrix, and updating only the lower triangle keeps the work at n^3 flops,
    as for a Cholesky inverse. LAPACK's in-place potrf/potri would do the same,
    but OpenBLAS's threaded potrf crashes from about 27,000 items on. Sweeping
    every pivot block leaves the negated inverse.
    """
    n = matrix.shape[0]
    swept = torch.from_numpy(matrix)
    block = _sweep_block(n)
    # A large catalogue takes minutes (7 for 41k items on 2 cores): log each tenth.
    tenths_logged, started = 0 if n > 10 * block else 10, time.perf_counter()
    for start in range(0, n, block):
        stop = min(start + block, n)
        pivot = swept[start:stop, start:stop].tril()
        pivot += pivot.tril(-1).T
        factor, info = torch.linalg.cholesky_ex(pivot)
        if info != 0:
            raise DataError(
                "EASE could not invert X^T X + l2*I: it is numerically singular in "
                "float32; increase l2."
            )
        pivot_inverse = torch.cholesky_inverse(factor)
        # Column start:stop of the symmetric matrix, read from the lower triangle.
        panel = torch.cat([swept[start:stop, :start].T, pivot, swept[stop:, start:stop]])
        scaled = panel @ pivot_inverse
        for row_start in range(0, n, block):
            row_stop = min(row_start + block, n)
            swept[row_start:row_stop, :row_stop].addmm_(
                scaled[row_start:row_stop], panel[:row_stop].T, alpha=-1.0
            )
        swept[stop:, start:stop] = scaled[stop:]
        swept[start:stop, :start] = scaled[:start].T
        swept[start:stop, start:stop] = -pivot_inverse
        if 10 * stop // n > tenths_logged:
            tenths_logged = 10 * stop // n
            logger.info(
                "EASE inverse: %d%% of %s items after %.0f s",
                10 * tenths_logged,
                f"{n:,}",
                time.perf_counter() - started,
            )
    _mirror_lower_triangle(matrix)
    swept.neg_()


class EASE:
    """Embarrassingly Shallow Autoencoder (Steck 2019), a closed-form item-item model.

    The weights minimise ``||X - XB||^2 + l2 ||B||^2`` subject to ``diag(B) = 0``,
    whose solution is ``B = -P / diag(P)`` with ``P = (X^T X + l2 I)^-1``. On
    MovieLens it matches Mult-VAE, which makes it the baseline to beat. Steck
    tunes ``l2`` between about 100 and 1000.
    """

    def __init__(self, l2: float):
        if not l2 > 0:
            raise DataError(
                f"EASE l2 must be positive (got {l2}): it keeps X^T X + l2*I invertible; "
                "values of 100 to 1000 suit most click data."
            )
        self.l2 = l2

    def fit(self, train: sp.csr_matrix) -> EASE:
        train = _interactions(train, "train")
        n_items = train.shape[1]
        needed, available = ease_memory_bytes(n_items), available_memory_bytes()
        if needed > available:
            raise DataError(
                f"EASE needs about {_readable_bytes(needed)} for {n_items:,} items (a dense "
                f"{n_items:,} x {n_items:,} float32 matrix and working blocks), but only "
                f"{_readable_bytes(available)} is available. "
                "Drop rarely clicked items to shrink the catalogue, or use ItemKNN, "
                "which keeps its item-item matrix sparse."
            )
        # X^T X is symmetric, so the CSR transpose of the CSC product is the same
        # matrix and densifies row by row, far faster than the CSC itself.
        gram = (train.T @ train).T.tocsr()
        weights = np.zeros((n_items, n_items), dtype=np.float32)
        gram.toarray(out=weights)
        del gram
        weights[np.diag_indices(n_items)] += self.l2
        _invert_in_place(weights)
        weights /= -weights.diagonal().copy()
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        fold_in = _fold_in(fold_in, self.weights_.shape[0])
        return np.asarray(fold_in @ self.weights_, dtype=np.float32)


class ItemKNN:
    """Item-based collaborative filtering with cosine similarity (Sarwar et al. 2001).

    Only each item's ``k`` most similar items are kept as its neighbours, which
    both denoises the similarities and keeps the item-item matrix sparse.
    ``shrink`` is added to the cosine denominator so that items with few
    co-occurrences do not look similar by chance.
    """

    def __init__(self, k: int, shrink: float):
        if k < 1:
            raise DataError(f"ItemKNN k must be at least 1 neighbour, got {k}.")
        if shrink < 0:
            raise DataError(f"ItemKNN shrink must be non-negative, got {shrink}.")
        self.k = k
        self.shrink = shrink

    def fit(self, train: sp.csr_matrix) -> ItemKNN:
        """Build the pruned similarity matrix one block of target items at a time.

        ``similarities_[i, j]`` is how much a click on item ``i`` recommends item
        ``j``; column ``j`` holds at most ``k`` neighbours of ``j``, never ``j`` itself.
        """
        train = _interactions(train, "train")
        n_items = train.shape[1]
        users_by_item = train.T.tocsr()
        norms = np.sqrt(np.asarray(users_by_item.multiply(users_by_item).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0  # an unclicked item co-occurs with nothing
        n_neighbours = min(self.k, n_items - 1)
        block = max(1, _BLOCK_ELEMENTS // n_items)
        neighbours, targets, values = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            block_targets = np.arange(start, stop)
            # Row t of `similarity` holds every item's similarity to target item start + t.
            similarity = (users_by_item[start:stop] @ train).toarray()
            similarity /= np.outer(norms[start:stop], norms) + self.shrink
            similarity[block_targets - start, block_targets] = 0.0
            top = np.argpartition(-similarity, n_neighbours - 1, axis=1)[:, :n_neighbours]
            top_values = np.take_along_axis(similarity, top, axis=1)
            keep = top_values > 0
            neighbours.append(top[keep])
            targets.append(np.broadcast_to(block_targets[:, None], top.shape)[keep])
            values.append(top_values[keep])
        self.similarities_ = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(neighbours), np.concatenate(targets))),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        fold_in = _fold_in(fold_in, self.similarities_.shape[0])
        return (fold_in @ self.similarities_).toarray().astype(np.float32, copy=False)


def _length_sorted_batches(lengths: np.ndarray, factors: int) -> Iterator[tuple[np.ndarray, int]]:
    """Rows grouped by similar length, as ``(rows, padded_width)``, within the block budget.

    A batch's rows are at most twice as long as its shortest (short rows share
    a width of ``factors // 4``), so padding wastes at most half of the batched
    matmuls in ``_als_solve`` even on heavily skewed data.
    """
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = lengths[order]
    n_rows = lengths.size
    start = 0
    while start < n_rows:

        def batch_elements(stop: int, start: int = start) -> int:
            return (stop - start) * max(int(sorted_lengths[stop - 1]), factors) * factors

        within_budget = start + bisect.bisect_right(
            range(start + 1, n_rows + 1), _BLOCK_ELEMENTS, key=batch_elements
        )
        max_width = max(2 * int(sorted_lengths[start]), factors // 4)
        similar_length = int(np.searchsorted(sorted_lengths, max_width, side="right"))
        stop = max(min(within_budget, similar_length), start + 1)
        yield order[start:stop], int(sorted_lengths[stop - 1])
        start = stop


def _als_solve(
    interactions: sp.csr_matrix, fixed: torch.Tensor, alpha: float, reg: float
) -> torch.Tensor:
    """Exact ALS half-step: each row's factors with the other side's ``fixed`` factors held.

    Row ``u`` solves ``(Y^T C_u Y + reg I) x_u = Y^T C_u p_u`` with confidence
    ``C_u = I + alpha diag(r_u)`` and preference ``p_u = [r_u > 0]``. Hu et al.'s
    split ``Y^T C_u Y = Y^T Y + Y^T (C_u - I) Y`` shares ``Y^T Y`` between rows,
    so each row only touches its observed items.
    """
    n_columns, factors = fixed.shape
    shared = fixed.T @ fixed + reg * torch.eye(factors)
    # Row n_columns is all zeros: padded positions gather it and contribute nothing.
    padded_fixed = torch.cat([fixed, fixed.new_zeros(1, factors)])
    indptr, indices, data = interactions.indptr, interactions.indices, interactions.data
    lengths = np.diff(indptr)
    solution = fixed.new_zeros(interactions.shape[0], factors)
    for rows, width in _length_sorted_batches(lengths, factors):
        if width == 0:
            continue  # no interactions: the solution is exactly zero
        positions = indptr[rows][:, None] + np.arange(width)
        observed = np.arange(width) < lengths[rows][:, None]
        positions = np.where(observed, positions, 0)
        columns = np.where(observed, indices[positions], n_columns).astype(np.int64)
        extra_confidence = torch.from_numpy(
            np.where(observed, alpha * data[positions], 0.0).astype(np.float32)
        )
        gathered = padded_fixed[torch.from_numpy(columns)]  # rows x width x factors
        lhs = shared + (gathered * extra_confidence[..., None]).transpose(1, 2) @ gathered
        rhs = ((1.0 + extra_confidence)[..., None] * gathered).sum(dim=1)
        cholesky = torch.linalg.cholesky(lhs)
        solution[torch.from_numpy(rows)] = torch.cholesky_solve(rhs[..., None], cholesky)[..., 0]
    return solution


def _als_objective(
    interactions: sp.csr_matrix,
    user_factors: torch.Tensor,
    item_factors: torch.Tensor,
    alpha: float,
    reg: float,
) -> float:
    """Hu et al.'s loss over all user-item pairs, without a dense prediction matrix.

    Summed over all pairs, ``sum(pred^2) = trace(U^T U Y^T Y)``; each observed
    pair then swaps its ``pred^2`` term for ``c (1 - pred)^2``.
    """
    observed = interactions.tocoo()
    predicted = torch.einsum(
        "nf,nf->n",
        user_factors[torch.from_numpy(observed.row.astype(np.int64))],
        item_factors[torch.from_numpy(observed.col.astype(np.int64))],
    ).double()
    confidence = 1.0 + alpha * torch.from_numpy(observed.data).double()
    users, items = user_factors.double(), item_factors.double()
    loss = (
        ((users.T @ users) * (items.T @ items)).sum()
        + (confidence * (1.0 - predicted) ** 2 - predicted**2).sum()
        + reg * (users.square().sum() + items.square().sum())
    )
    return float(loss)


class MatrixFactorization:
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al. 2008).

    Every user-item pair is a training example: clicks count with confidence
    ``1 + alpha * r`` and non-clicks with confidence 1 as zeros. ALS rather than
    BPR because a held-out user's fold-in is then exactly one ALS user step with
    the item factors fixed, a closed-form solve with no extra training. Each
    epoch solves all users, then all items, exactly, so the loss never rises.
    The settings in conf/base did best among those tried on ML-100K and on Gowalla
    (Recall@20 0.141 on the LightGCN split, where BPR-MF reaches about 0.13).
    """

    def __init__(
        self,
        factors: int,
        epochs: int,
        reg: float,
        alpha: float,
        seed: int,
    ):
        if factors < 1 or epochs < 1:
            raise DataError(
                f"MatrixFactorization needs factors >= 1 and epochs >= 1, got "
                f"factors={factors}, epochs={epochs}."
            )
        if not reg > 0 or alpha < 0:
            raise DataError(
                f"MatrixFactorization needs reg > 0 (it keeps every solve well posed) and "
                f"alpha >= 0, got reg={reg}, alpha={alpha}."
            )
        self.factors = factors
        self.epochs = epochs
        self.reg = reg
        self.alpha = alpha
        self.seed = seed

    def fit(self, train: sp.csr_matrix) -> MatrixFactorization:
        """Alternate exact user and item steps, recording the loss in ``objective_history_``."""
        train = _interactions(train, "train")
        users_by_item = train.T.tocsr()
        generator = torch.Generator().manual_seed(self.seed)
        # The first user step needs only item factors, so users start from nothing.
        item_factors = 0.01 * torch.randn(train.shape[1], self.factors, generator=generator)
        self.objective_history_: list[float] = []
        for _ in range(self.epochs):
            user_factors = _als_solve(train, item_factors, self.alpha, self.reg)
            item_factors = _als_solve(users_by_item, user_factors, self.alpha, self.reg)
            self.objective_history_.append(
                _als_objective(train, user_factors, item_factors, self.alpha, self.reg)
            )
        self.item_factors_ = item_factors
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        fold_in = _fold_in(fold_in, self.item_factors_.shape[0])
        user_factors = _als_solve(fold_in, self.item_factors_, self.alpha, self.reg)
        return (user_factors @ self.item_factors_.T).numpy()
