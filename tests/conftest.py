"""Shared fixtures: the real MovieLens 100K, from ../shared/data when it is beside
the clone, otherwise from the same PyPI mirror the pipeline uses, never skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from vaeops.data.ingest import load_interactions

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory) -> Path:
    shared = SHARED_DATA / "ml-100k"
    if (shared / "u.data").is_file():
        return shared
    raw_dir = tmp_path_factory.mktemp("raw")
    load_interactions("ml-100k", raw_dir=raw_dir)
    return raw_dir / "ml-100k"


@pytest.fixture(scope="session")
def ml100k_interactions(ml100k_dir, tmp_path_factory) -> pd.DataFrame:
    return load_interactions("ml-100k", raw_dir=tmp_path_factory.mktemp("unused"), path=ml100k_dir)
