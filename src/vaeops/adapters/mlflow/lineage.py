"""What a run read and ran: its interactions, logged as the MLflow run's input, and the
project's git commit.

With the input the UI's Dataset column names the data each run used, and runs on the
same rows share a digest, which is the prefix of the fingerprint the model registry tags
each version with (``dataset_fingerprint``).
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

import vaeops
from vaeops.adapters.mlflow.registry import FINGERPRINT_TAG
from vaeops.data.ingest import load_given_split
from vaeops.recommenders.retraining import interactions_fingerprint

# MLflow stores at most 36 characters of a dataset digest; the full fingerprint is the
# input's FINGERPRINT_TAG.
DIGEST_LENGTH = 36
INPUT_CONTEXT = "ingested"


def dataset_label(dataset: Mapping[str, Any]) -> str:
    """A dataset's name, or for a ``custom`` one its file's name, which says more."""
    if dataset["name"] == "custom" and dataset.get("path"):
        return Path(dataset["path"]).name
    return dataset["name"]


def interactions_source(dataset: Mapping[str, Any]) -> str:
    """Where the interactions were read, as a file URI: the user's ``path``, else the
    verified cache."""
    location = dataset["path"] or Path(dataset["raw_dir"]) / dataset["name"]
    return Path(location).resolve().as_uri()


def log_interactions_input(interactions: pd.DataFrame, name: str, source: str) -> None:
    """Log ``interactions`` as an input of the active MLflow run, as ``name`` (a
    ``dataset_label``) read from ``source`` (a URI)."""
    fingerprint = interactions_fingerprint(interactions)
    with warnings.catch_warnings():
        # MLflow registers two equivalent sources for local files and says so, and gives
        # advice on integer columns meant for model signatures: neither applies here.
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column")
        data = mlflow.data.from_pandas(
            interactions,
            source=source,
            name=name,
            digest=fingerprint[:DIGEST_LENGTH],
        )
        mlflow.log_input(data, context=INPUT_CONTEXT, tags={FINGERPRINT_TAG: fingerprint})


def given_split_interactions(dataset: Mapping[str, Any]) -> pd.DataFrame:
    """The interactions of a split that ships with its data (benchmark_given_split.dataset):
    both parts, each row's ``part`` saying which."""
    train, test = load_given_split(dataset["name"], dataset["raw_dir"], dataset["path"])
    return pd.concat([train.assign(part="train"), test.assign(part="test")], ignore_index=True)


def current_git_commit() -> str | None:
    """The commit of the vaeops code that runs: that of the checkout the package lies in,
    wherever the run's working directory is; None for an installed copy or without git."""
    try:
        return subprocess.run(
            ["git", "-C", str(Path(vaeops.__file__).parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
