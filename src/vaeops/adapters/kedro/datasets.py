"""Kedro datasets for the core's artefacts: sparse matrices and model weights."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import scipy.sparse as sp
import torch
from kedro.io import AbstractDataset, DatasetError

from vaeops.adapters.mlflow.tracking import set_run_tags
from vaeops.files import torch_save_atomically, write_atomically


class _LocalFileDataset(AbstractDataset):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class SparseMatrixDataset(_LocalFileDataset):
    """A scipy CSR matrix stored as ``.npz`` (``scipy.sparse.save_npz``), replaced atomically."""

    def load(self) -> sp.csr_matrix:
        return sp.load_npz(Path(self._filepath)).tocsr()

    def save(self, data: sp.spmatrix) -> None:
        if not sp.issparse(data):
            raise DatasetError(
                f"{self._filepath}: expected a scipy sparse matrix, got {type(data)}"
            )
        matrix = sp.csr_matrix(data)

        def save_npz(temporary: Path) -> None:
            with open(temporary, "wb") as file:  # a path would gain a second ".npz"
                sp.save_npz(file, matrix, compressed=True)

        write_atomically(Path(self._filepath), save_npz)


class TorchWeightsDataset(_LocalFileDataset):
    """A ``state_dict`` of tensors; loading refuses pickled code (``weights_only``), and
    saving replaces the file atomically, so a failed save keeps the previous weights."""

    def load(self) -> dict[str, torch.Tensor]:
        return torch.load(Path(self._filepath), map_location="cpu", weights_only=True)

    def save(self, data: dict[str, torch.Tensor]) -> None:
        weights = {name: tensor.detach().cpu() for name, tensor in data.items()}
        torch_save_atomically(weights, Path(self._filepath))


class AtomicDataset(_LocalFileDataset):
    """Any file dataset (``dataset``: its type or config, as in the catalog), saved to a
    temporary file and renamed over ``filepath``: a failed save (a full disk) leaves the
    previous file whole. kedro-datasets write in place, through fsspec."""

    def __init__(
        self, dataset: str | dict[str, Any], filepath: str, metadata: dict[str, Any] | None = None
    ):
        super().__init__(filepath, metadata)
        self._dataset = {"type": dataset} if isinstance(dataset, str) else dict(dataset)

    def load(self) -> Any:
        return self._inner(Path(self._filepath)).load()

    def save(self, data: Any) -> None:
        write_atomically(Path(self._filepath), lambda temporary: self._inner(temporary).save(data))

    def _inner(self, path: Path) -> AbstractDataset:
        return AbstractDataset.from_config(
            f"{self._filepath}", {**self._dataset, "filepath": str(path)}
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "dataset": self._dataset["type"]}


class MlflowRunTagsDataset(AbstractDataset):
    """Saving a dict tags the active MLflow run."""

    def __init__(self, metadata: dict[str, Any] | None = None):
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        raise DatasetError("Run tags are write-only; read them in the MLflow UI or client.")

    def save(self, data: dict[str, str]) -> None:
        set_run_tags({name: str(value) for name, value in data.items()})

    def _describe(self) -> dict[str, Any]:
        return {}
