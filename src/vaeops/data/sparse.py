"""User-item matrices kept in CSR form on the compute device.

Open Mult-VAE code densifies each batch on the host with scipy and copies it
over, which makes the host the bottleneck. Here the whole CSR lives on the
device; a batch is a contiguous slice of its flat arrays, so building one costs
no host round-trip and the input matrix is never densified. The encoder's first
layer consumes the batch through ``embedding_bag`` (a sparse-dense product).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass(frozen=True)
class SparseBatch:
    """Rows of a CSR matrix in the flat form ``embedding_bag`` and the loss need.

    ``row_of_value[j]`` is the batch row that owns ``values[j]``, which lets the
    loss gather logits at the observed items and the metrics mask fold-in items
    without a dense copy of the input.
    """

    columns: torch.Tensor  # (nnz,) int64 item index of each stored value
    values: torch.Tensor  # (nnz,) float32
    offsets: torch.Tensor  # (n_rows,) int64 start of each row within columns/values
    row_of_value: torch.Tensor  # (nnz,) int64
    n_rows: int
    n_cols: int

    def row_sums(self) -> torch.Tensor:
        sums = torch.zeros(self.n_rows, device=self.values.device, dtype=self.values.dtype)
        return sums.index_add_(0, self.row_of_value, self.values)

    def to_scipy(self) -> sp.csr_matrix:
        indptr = torch.cat([self.offsets, self.offsets.new_tensor([self.columns.numel()])])
        return sp.csr_matrix(
            (self.values.cpu().numpy(), self.columns.cpu().numpy(), indptr.cpu().numpy()),
            shape=(self.n_rows, self.n_cols),
        )

    def to_dense(self) -> torch.Tensor:
        dense = torch.zeros(self.n_rows, self.n_cols, device=self.values.device)
        dense[self.row_of_value, self.columns] = self.values
        return dense


def binary_csr(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Ones at the given (row, column) pairs, indices sorted; a repeated pair is stored once.

    Callers that must refuse repeated pairs compare ``nnz`` with the number of pairs.
    """
    matrix = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


class DeviceCSR:
    """A CSR matrix as three device tensors, with sync-free contiguous batching.

    Hand-written rather than a torch sparse tensor: batches must be contiguous slices whose
    bounds the host already knows, fed straight to ``embedding_bag`` (see the module docstring).
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device | str = "cpu"):
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sort_indices()
        device = torch.device(device)
        self.shape = matrix.shape
        self.nnz = int(matrix.nnz)
        self.indptr = torch.as_tensor(matrix.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(matrix.indices.astype(np.int64), device=device)
        self.data = torch.as_tensor(matrix.data, device=device)
        # Row boundaries on the host let every batch be sliced with Python ints,
        # so the hot loop never waits on the device to learn a batch's size.
        self._indptr_host = matrix.indptr.astype(np.int64)
        self._row_of_value = torch.repeat_interleave(
            torch.arange(self.shape[0], device=device),
            self.indptr.diff(),
            output_size=self.nnz,
        )

    @property
    def device(self) -> torch.device:
        return self.indices.device

    def permute_rows(self, order: torch.Tensor) -> DeviceCSR:
        """The same matrix with rows reordered, built on the device (one sync per call)."""
        order = order.to(self.device)
        lengths = self.indptr.diff()[order]
        new_indptr = torch.zeros(self.shape[0] + 1, dtype=torch.int64, device=self.device)
        torch.cumsum(lengths, dim=0, out=new_indptr[1:])
        # Position j of the new flat arrays reads old position
        # indptr[order[row]] + (j - new_indptr[row]) for the row that owns j.
        shift = self.indptr[:-1][order] - new_indptr[:-1]
        gather = torch.arange(self.nnz, device=self.device) + torch.repeat_interleave(
            shift, lengths, output_size=self.nnz
        )
        permuted = object.__new__(DeviceCSR)
        permuted.shape = self.shape
        permuted.nnz = self.nnz
        permuted.indptr = new_indptr
        permuted.indices = self.indices[gather]
        permuted.data = self.data[gather]
        permuted._indptr_host = new_indptr.cpu().numpy()
        permuted._row_of_value = torch.repeat_interleave(
            torch.arange(self.shape[0], device=self.device), lengths, output_size=self.nnz
        )
        return permuted

    def rows(self, start: int, stop: int) -> SparseBatch:
        stop = min(stop, self.shape[0])
        lo, hi = int(self._indptr_host[start]), int(self._indptr_host[stop])
        return SparseBatch(
            columns=self.indices[lo:hi],
            values=self.data[lo:hi],
            offsets=self.indptr[start:stop] - lo,
            row_of_value=self._row_of_value[lo:hi] - start,
            n_rows=stop - start,
            n_cols=self.shape[1],
        )

    def batches(self, batch_size: int) -> Iterator[SparseBatch]:
        for start in range(0, self.shape[0], batch_size):
            yield self.rows(start, start + batch_size)


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
