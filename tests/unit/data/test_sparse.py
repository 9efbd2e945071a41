import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.helpers.devices import DEVICES
from vaeops.data.sparse import DeviceCSR, binary_csr, resolve_device


def random_csr(rows=53, cols=41, density=0.15, seed=0):
    matrix = sp.random(
        rows, cols, density=density, format="csr", random_state=seed, dtype=np.float32
    )
    matrix.data = np.round(matrix.data * 4 + 1)
    matrix = matrix.tolil()
    matrix[7] = 0  # an empty row must survive batching
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    return matrix


@pytest.mark.parametrize("device", DEVICES)
def test_batches_equal_scipy_dense_rows(device):
    matrix = random_csr()
    device_csr = DeviceCSR(matrix, device)
    for start in range(0, matrix.shape[0], 10):
        batch = device_csr.rows(start, start + 10)
        assert batch.values.device.type == device
        np.testing.assert_array_equal(
            batch.to_dense().cpu().numpy(), matrix[start : start + 10].toarray()
        )
        assert (batch.to_scipy() != matrix[start : start + 10]).nnz == 0


@pytest.mark.parametrize("device", DEVICES)
def test_permuted_batches_equal_scipy_rows_in_that_order(device):
    matrix = random_csr(seed=1)
    order = torch.randperm(matrix.shape[0], generator=torch.Generator().manual_seed(3))
    permuted = DeviceCSR(matrix, device).permute_rows(order)
    rows = order.numpy()
    seen = []
    for i, batch in enumerate(permuted.batches(8)):
        expected = matrix[rows[i * 8 : i * 8 + 8]].toarray()
        np.testing.assert_array_equal(batch.to_dense().cpu().numpy(), expected)
        np.testing.assert_array_equal(batch.row_sums().cpu().numpy(), expected.sum(axis=1))
        seen.append(batch.n_rows)
    assert sum(seen) == matrix.shape[0]


def test_binary_csr_stores_each_pair_once_as_a_one():
    matrix = binary_csr(np.array([1, 0, 1, 1]), np.array([2, 3, 0, 2]), (3, 4))
    np.testing.assert_array_equal(matrix.toarray(), [[0, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0]])
    assert matrix.nnz == 3 and matrix.dtype == np.float32 and matrix.has_sorted_indices


def test_binary_csr_of_no_pairs_has_the_shape_and_no_values():
    matrix = binary_csr(np.empty(0, np.int64), np.empty(0, np.int64), (2, 5))
    assert matrix.shape == (2, 5) and matrix.nnz == 0


def test_auto_device_is_cuda_when_available():
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
