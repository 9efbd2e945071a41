"""Data a retraining run has already trained on, recognised by a fingerprint of the
interactions."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


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
