"""A small torch MLP classifier, trained the same way in every augmentation arm.

Full-batch Adam for a fixed number of epochs, seeded, with no early stopping:
an arm's score must depend on its training data only, not on a stopping rule
that reacts differently to synthetic rows. The focal loss (Lin et al. 2017)
down-weights rows the model already classifies confidently, ``(1 - p_t)^gamma``,
so that on imbalanced data the many easy majority rows do not swamp the few
minority ones; ``gamma = 0`` is the cross-entropy. ``fit_mlps`` trains the
classifiers of many splits side by side (see ``vaeops.augmentation.batched``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vaeops.augmentation.batched import BatchedLinear, check_training_sets, masked_mean, pad_rows
from vaeops.augmentation.settings import MlpParameters


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-row ``-(1 - p_t)^gamma * log p_t``, p_t the probability of the true class;
    ``logits`` is ``(..., n_classes)``, ``labels`` the matching class indices."""
    log_p_true = F.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return -(1.0 - log_p_true.exp()).pow(gamma) * log_p_true


class BatchedMLP(nn.Module):
    """``n_models`` independent ReLU MLPs on ``(n_models, rows, features)``."""

    def __init__(self, widths: list[int], generators: Sequence[torch.Generator]):
        super().__init__()
        self.layers = nn.ModuleList(
            BatchedLinear(width_in, width_out, generators)
            for width_in, width_out in zip(widths[:-1], widths[1:], strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)

    def select(self, index: int) -> BatchedMLP:
        single = BatchedMLP.__new__(BatchedMLP)
        nn.Module.__init__(single)
        single.layers = nn.ModuleList(layer.select(index) for layer in self.layers)
        return single.eval()


@dataclass
class TrainedMLP:
    network: BatchedMLP  # one model
    history: np.ndarray  # training loss per epoch

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return torch.softmax(
            self.network(torch.as_tensor(np.asarray(x, dtype=np.float32))[None])[0], dim=1
        ).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)


def fit_mlp(
    x: np.ndarray, labels: np.ndarray, n_classes: int, config: MlpParameters, seed: int
) -> TrainedMLP:
    return fit_mlps([x], [labels], n_classes, config, [seed])[0]


def fit_mlps(
    xs: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    n_classes: int,
    config: MlpParameters,
    seeds: Sequence[int],
) -> list[TrainedMLP]:
    """One MLP per training set, trained side by side (full batch, Adam, ``config.epochs``
    steps); model ``i`` sees ``xs[i]`` only, as ``fit_mlp(xs[i], labels[i], ..., seeds[i])``."""
    check_training_sets(xs, labels, n_classes, seeds)
    x_pad, mask = pad_rows(xs)
    y_pad = torch.zeros(mask.shape, dtype=torch.long)
    for index, y in enumerate(labels):
        y_pad[index, : len(y)] = torch.as_tensor(np.asarray(y), dtype=torch.long)
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    network = BatchedMLP([x_pad.shape[2], *config.hidden_dims, n_classes], generators)
    optimizer = torch.optim.Adam(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
    )
    history = []
    network.train()
    for _ in range(config.epochs):
        optimizer.zero_grad(set_to_none=True)
        logits = network(x_pad)
        if config.loss == "focal":
            per_row = focal_loss(logits, y_pad, config.focal_gamma)
        else:
            per_row = F.cross_entropy(logits.transpose(1, 2), y_pad, reduction="none")
        loss = masked_mean(per_row, mask)
        loss.sum().backward()
        optimizer.step()
        history.append(loss.detach())
    losses = torch.stack(history).numpy()
    return [
        TrainedMLP(network=network.select(index), history=losses[:, index])
        for index in range(len(xs))
    ]
