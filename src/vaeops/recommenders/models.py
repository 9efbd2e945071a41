"""Mult-VAE and Mult-DAE (Liang et al. 2018) over sparse click histories.

Both follow the authors' code (dawenl/vae_cf): L2-normalised input with dropout,
tanh hidden layers, Glorot-uniform weights and N(0, 0.001) biases, and a
multinomial likelihood over all items. The first layer reads the sparse batch
through ``embedding_bag``, which equals ``dropout(normalize(x)) @ W`` without a
dense ``x``; the likelihood gathers logits at the clicked items and subtracts a
fused ``logsumexp``, which equals ``sum(log_softmax(logits) * x)`` without a
dense ``x`` or a materialised log-softmax.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from vaeops.data.sparse import SparseBatch


@dataclass
class ModelConfig:
    """Architecture of an autoencoder recommender, stored beside its weights."""

    kind: str  # "multvae" or "multdae"
    n_items: int
    hidden_dims: list[int] = field(default_factory=lambda: [600])
    latent_dim: int = 200
    dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


class _SparseInputAutoencoder(nn.Module):
    """Shared input layer, decoder and likelihood of Mult-VAE and Mult-DAE."""

    def __init__(self, config: ModelConfig, encoder_out_dim: int):
        super().__init__()
        self.config = config
        encoder_dims = [*config.hidden_dims, encoder_out_dim]
        decoder_dims = [config.latent_dim, *reversed(config.hidden_dims), config.n_items]
        self.input_layer = nn.EmbeddingBag(config.n_items, encoder_dims[0], mode="sum")
        self.input_bias = nn.Parameter(torch.empty(encoder_dims[0]))
        self.encoder = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in pairwise(encoder_dims)
        )
        self.decoder = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in pairwise(decoder_dims)
        )
        self._init_like_reference()

    def _init_like_reference(self) -> None:
        nn.init.xavier_uniform_(self.input_layer.weight)
        nn.init.trunc_normal_(self.input_bias, std=0.001)
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.trunc_normal_(layer.bias, std=0.001)

    def weight_matrices(self) -> list[torch.Tensor]:
        return [
            self.input_layer.weight,
            *(layer.weight for layer in [*self.encoder, *self.decoder]),
        ]

    def _encode_hidden(self, batch: SparseBatch) -> torch.Tensor:
        values = batch.values
        norms = torch.zeros(batch.n_rows, device=values.device, dtype=values.dtype)
        norms.index_add_(0, batch.row_of_value, values * values)
        values = values * norms.clamp_min(1e-24).rsqrt()[batch.row_of_value]
        values = F.dropout(values, p=self.config.dropout, training=self.training)
        h = (
            self.input_layer(batch.columns, batch.offsets, per_sample_weights=values)
            + self.input_bias
        )
        for layer in self.encoder:
            h = layer(torch.tanh(h))
        return h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for i, layer in enumerate(self.decoder):
            h = layer(h if i == 0 else torch.tanh(h))
        return h

    @staticmethod
    def multinomial_nll(logits: torch.Tensor, batch: SparseBatch) -> torch.Tensor:
        """Mean over users of ``-sum_i x_ui * log_softmax(logits)_ui``."""
        return _MultinomialNLL.apply(
            logits, batch.row_of_value, batch.columns, batch.values, batch.row_sums()
        )


class _MultinomialNLL(torch.autograd.Function):
    """Log-softmax and the multinomial likelihood in one step.

    Autograd through ``logsumexp`` and an index gather would allocate the softmax,
    a zero-filled scatter of the click gradient and their sum, each the size of
    the logits; here the gradient is written once, in place:
    ``(softmax * clicks_per_user - x) / n_users``. Computed in float32 even when
    the logits come from bf16 autocast.
    """

    @staticmethod
    def forward(ctx, logits, row_of_value, columns, values, clicks_per_user):
        logits32 = logits.float()
        log_partition = torch.logsumexp(logits32, dim=1)
        clicked = logits32[row_of_value, columns]
        n_users = logits.shape[0]
        ctx.save_for_backward(logits, log_partition, clicks_per_user, row_of_value, columns, values)
        return (torch.dot(log_partition, clicks_per_user) - torch.dot(clicked, values)) / n_users

    @staticmethod
    def backward(ctx, grad_output):
        logits, log_partition, clicks_per_user, row_of_value, columns, values = ctx.saved_tensors
        scale = grad_output / logits.shape[0]
        grad = logits.float().sub(log_partition[:, None]).exp_()
        grad.mul_((clicks_per_user * scale)[:, None])
        grad.index_put_((row_of_value, columns), -values * scale, accumulate=True)
        return grad.to(logits.dtype), None, None, None, None


class MultVAE(_SparseInputAutoencoder):
    """Variational autoencoder with a multinomial likelihood (the paper's Mult-VAE)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config, encoder_out_dim=2 * config.latent_dim)

    def encode(self, batch: SparseBatch) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._encode_hidden(batch)
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def forward(self, batch: SparseBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(batch)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decode(z), mu, logvar

    def loss(
        self, batch: SparseBatch, beta: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, mu, logvar = self(batch)
        nll = self.multinomial_nll(logits, batch)
        mu, logvar = mu.float(), logvar.float()
        kl = 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar).sum(dim=1).mean()
        return nll + beta * kl, nll, kl

    def score(self, batch: SparseBatch) -> torch.Tensor:
        return self(batch)[0]


class MultDAE(_SparseInputAutoencoder):
    """Denoising autoencoder with a multinomial likelihood (the paper's Mult-DAE)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config, encoder_out_dim=config.latent_dim)

    def forward(self, batch: SparseBatch) -> torch.Tensor:
        return self.decode(torch.tanh(self._encode_hidden(batch)))

    def loss(
        self, batch: SparseBatch, beta: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        nll = self.multinomial_nll(self(batch), batch)
        no_kl = torch.zeros((), device=nll.device)
        return nll, nll, no_kl

    def score(self, batch: SparseBatch) -> torch.Tensor:
        return self(batch)


MODEL_CLASSES = {"multvae": MultVAE, "multdae": MultDAE}


def build_model(config: ModelConfig | dict) -> MultVAE | MultDAE:
    if isinstance(config, dict):
        config = ModelConfig(**config)
    if config.kind not in MODEL_CLASSES:
        raise ValueError(
            f"Unknown model kind {config.kind!r}; choose one of {sorted(MODEL_CLASSES)}."
        )
    return MODEL_CLASSES[config.kind](config)


def load_model(
    config: ModelConfig | dict, weights: dict[str, torch.Tensor], device: torch.device | str = "cpu"
) -> MultVAE | MultDAE:
    """A trained model ready to score: the architecture from ``config``, the saved
    ``weights`` loaded, moved to ``device`` and switched to evaluation mode."""
    model = build_model(config)
    model.load_state_dict(weights)
    return model.to(device).eval()
