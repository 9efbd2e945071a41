"""Small binary user-item matrices written out by hand in tests."""

import numpy as np
import scipy.sparse as sp


def csr(rows: list[list[int]], n_items: int = 4) -> sp.csr_matrix:
    """One row per user, listing the columns of the items they clicked."""
    matrix = sp.lil_matrix((len(rows), n_items), dtype=np.float32)
    for row, columns in enumerate(rows):
        for column in columns:
            matrix[row, column] = 1.0
    return matrix.tocsr()
