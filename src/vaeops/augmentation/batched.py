"""Many small networks trained side by side as one, for the repeated splits of a study.

Fifty tiny models trained one after another spend their time in per-step
overhead, not arithmetic. Stacking their weights along a leading model axis
turns fifty matrix products into one batched product, and since every
parameter belongs to exactly one model, summing the models' losses gives each
model its own gradient, so (with Adam's per-element updates) each model trains
exactly as it would alone. Each model draws its initial weights and its noise
from its own seeded generator, and a model's training set is padded, never
resampled, so its result does not depend on which models share its batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class BatchedLinear(nn.Module):
    """``n_models`` independent ``nn.Linear(n_in, n_out)`` layers, applied to a tensor of
    shape ``(n_models, rows, n_in)``.

    Initialised like ``nn.Linear``: weights and biases uniform in ``±1/sqrt(n_in)``.
    """

    def __init__(self, n_in: int, n_out: int, generators: Sequence[torch.Generator]):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(
            torch.stack([_uniform((n_in, n_out), bound, g) for g in generators])
        )
        self.bias = nn.Parameter(torch.stack([_uniform((1, n_out), bound, g) for g in generators]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def select(self, index: int) -> BatchedLinear:
        """Model ``index`` alone, as a layer of one model (a copy)."""
        single = BatchedLinear.__new__(BatchedLinear)
        nn.Module.__init__(single)
        single.weight = nn.Parameter(self.weight.detach()[index : index + 1].clone())
        single.bias = nn.Parameter(self.bias.detach()[index : index + 1].clone())
        return single


def _uniform(shape: tuple[int, int], bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


def pad_rows(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 2-D arrays of different row counts into ``(n_models, max_rows, columns)``
    float32, zero-padded, with a ``(n_models, max_rows)`` mask that is 1 on real rows."""
    longest = max(len(array) for array in arrays)
    tail = np.asarray(arrays[0]).shape[1:]
    padded = torch.zeros((len(arrays), longest, *tail))
    mask = torch.zeros((len(arrays), longest))
    for index, array in enumerate(arrays):
        padded[index, : len(array)] = torch.as_tensor(np.asarray(array, dtype=np.float32))
        mask[index, : len(array)] = 1.0
    return padded, mask


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-model mean over real rows: ``(n_models, rows)`` -> ``(n_models,)``."""
    return (values * mask).sum(dim=1) / mask.sum(dim=1)


def check_training_sets(
    xs: Sequence[np.ndarray], labels: Sequence[np.ndarray], n_classes: int, seeds: Sequence[int]
) -> None:
    if not (len(xs) == len(labels) == len(seeds)) or not xs:
        raise ValueError(
            f"give one training set, label array and seed per model; got {len(xs)}, "
            f"{len(labels)} and {len(seeds)}."
        )
    widths = {np.asarray(x).shape[1] if np.ndim(x) == 2 else None for x in xs}
    if None in widths or len(widths) != 1:
        raise ValueError(
            "every training set must be a 2-D (rows, features) array with the same features."
        )
    for x, y in zip(xs, labels, strict=True):
        y = np.asarray(y)
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(
                f"each training set needs rows and one label per row; got {len(x)} rows and "
                f"{len(y)} labels."
            )
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(
                f"labels must be class indices in [0, {n_classes}); got {y.min()}..{y.max()}."
            )
