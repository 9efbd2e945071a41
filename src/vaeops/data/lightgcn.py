"""The split files of the LightGCN authors: one line ``user item item ...`` per user.

numpy only, so that the speed benchmark reads Gowalla with the same code as the pipeline on
a bare GPU machine.
"""

from __future__ import annotations

import io
import logging
from typing import IO

import numpy as np

from vaeops.errors import DataError

logger = logging.getLogger(__name__)


def read_user_items(stream: IO[bytes], label: str) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) id pairs of a split file as two int64 arrays, in file order.

    A user listed without items adds no pair; ``label`` names the file in errors.
    """
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    users_without_items = 0
    for line_number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), start=1):
        try:
            ids = np.array(line.split(), dtype=np.int64)
        except (ValueError, OverflowError):
            raise DataError(
                f"{label} line {line_number}: expected integer ids 'user item item ...', "
                f"got {line.strip()[:80]!r}."
            ) from None
        if ids.size == 1:
            users_without_items += 1
        elif ids.size > 1:
            users.append(np.full(ids.size - 1, ids[0]))
            items.append(ids[1:])
    if users_without_items:
        logger.info("%s: %d user(s) have no items in this split", label, users_without_items)
    if not items:
        raise DataError(f"{label} has no interactions; it should hold lines 'user item item ...'.")
    return np.concatenate(users), np.concatenate(items)
