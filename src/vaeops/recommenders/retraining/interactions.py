"""The interactions a retraining round trains on: the dataset as configured plus new files."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from vaeops.data.ingest import (
    INTERACTION_COLUMNS,
    load_configured,
    load_interactions,
    merge_duplicates,
)
from vaeops.data.settings import DatasetParameters
from vaeops.errors import DataError

logger = logging.getLogger(__name__)


def current_interactions(
    dataset: DatasetParameters, extra_files: Sequence[str] | None
) -> pd.DataFrame:
    """The dataset as configured plus ``extra_files``, repeated pairs merged.

    Extra files of a custom dataset have its columns (``dataset.columns``); for a
    named dataset they use the standard names user, item[, rating][, timestamp].
    """
    interactions = load_configured(dataset)
    if not extra_files:
        return interactions
    custom = dataset.name == "custom"
    if custom:
        columns = dataset.columns.model_dump()
    else:
        columns = {
            role: (role if role in interactions.columns else None) for role in INTERACTION_COLUMNS
        }
    frames = [interactions]
    for path in extra_files:
        extra = load_interactions(
            "custom",
            raw_dir=dataset.raw_dir,
            path=path,
            columns=columns,
            separator=dataset.separator if custom else None,
        )
        for column in ("user", "item"):
            if pd.api.types.is_integer_dtype(extra[column]) != pd.api.types.is_integer_dtype(
                interactions[column]
            ):
                raise DataError(
                    f"{path}: {column} ids are {extra[column].dtype} but the dataset's are "
                    f"{interactions[column].dtype}; new interactions must use the same ids."
                )
        frames.append(extra)
        logger.info("Added %d interactions from %s", len(extra), path)
    return merge_duplicates(pd.concat(frames, ignore_index=True), "interactions + extra files")
