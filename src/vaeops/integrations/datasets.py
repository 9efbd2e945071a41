"""Kedro datasets for the core's artefacts: sparse matrices and model weights."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import scipy.sparse as sp
import torch
from kedro.io import AbstractDataset, DatasetError

from vaeops.integrations.tracking import set_run_tags


class _LocalFileDataset(AbstractDataset):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _prepare_path(self) -> Path:
        path = Path(self._filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class SparseMatrixDataset(_LocalFileDataset):
    """A scipy CSR matrix stored as ``.npz`` (``scipy.sparse.save_npz``)."""

    def load(self) -> sp.csr_matrix:
        return sp.load_npz(Path(self._filepath)).tocsr()

    def save(self, data: sp.spmatrix) -> None:
        if not sp.issparse(data):
            raise DatasetError(
                f"{self._filepath}: expected a scipy sparse matrix, got {type(data)}"
            )
        sp.save_npz(self._prepare_path(), sp.csr_matrix(data), compressed=True)


class TorchWeightsDataset(_LocalFileDataset):
    """A ``state_dict`` of tensors; loading refuses pickled code (``weights_only``)."""

    def load(self) -> dict[str, torch.Tensor]:
        return torch.load(Path(self._filepath), map_location="cpu", weights_only=True)

    def save(self, data: dict[str, torch.Tensor]) -> None:
        torch.save(
            {name: tensor.detach().cpu() for name, tensor in data.items()}, self._prepare_path()
        )


class MlflowRunTagsDataset(AbstractDataset):
    """Saving a dict tags the active MLflow run, plus the project's git commit."""

    def __init__(self, metadata: dict[str, Any] | None = None):
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        raise DatasetError("Run tags are write-only; read them in the MLflow UI or client.")

    def save(self, data: dict[str, str]) -> None:
        tags = {name: str(value) for name, value in data.items()}
        commit = current_git_commit()
        if commit:
            tags["git_commit"] = commit
        set_run_tags(tags)

    def _describe(self) -> dict[str, Any]:
        return {}


def current_git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
