"""What every split checks and builds: interaction columns, and binary matrices of
distinct (user, item) pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from vaeops.data.sparse import binary_csr
from vaeops.errors import DataError


def check_interactions(interactions: pd.DataFrame) -> None:
    missing = [column for column in ("user", "item") if column not in interactions.columns]
    if missing:
        raise DataError(
            f"interactions lack column(s) {missing}; found {list(interactions.columns)}. "
            "Expected 'user' and 'item' (original ids) and optionally 'rating' and "
            "'timestamp'; rename your id columns, e.g. "
            "df.rename(columns={'userId': 'user', 'movieId': 'item'})."
        )


def distinct_pairs_csr(
    rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int], name: str
) -> sp.csr_matrix:
    matrix = binary_csr(rows, columns, shape)
    if matrix.nnz != rows.size:
        raise duplicates_error(name)
    return matrix


def duplicates_error(name: str) -> DataError:
    return DataError(
        f"the {name} interactions repeat (user, item) pairs; the split expects one row per "
        "pair. Deduplicate first, e.g. df.drop_duplicates(subset=['user', 'item'])."
    )
