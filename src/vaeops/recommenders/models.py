"""Mult-VAE, Mult-DAE (Liang et al. 2018) and RecVAE (Shenbin et al. 2020) over sparse clicks.

Both follow the authors' code (dawenl/vae_cf): L2-normalised input with dropout,
tanh hidden layers, Glorot-uniform weights and N(0, 0.001) biases, and a
multinomial likelihood over all items. The first layer reads the sparse batch
through ``embedding_bag``, which equals ``dropout(normalize(x)) @ W`` without a
dense ``x``; the likelihood gathers logits at the clicked items and subtracts a
fused ``logsumexp``, which equals ``sum(log_softmax(logits) * x)`` without a
dense ``x`` or a materialised log-softmax.

RecVAE follows the authors' code (ilya-shenbin/RecVAE) on the same sparse input
layer and fused likelihood: a dense encoder of five residual swish layers with
layer norm, a composite prior (standard normal, the previous encoder's
posterior, a wide normal) and a KL weight of ``gamma`` times each user's number
of clicks. Its training alternates encoder and decoder passes
(``training_phases``), with the prior refreshed after each encoder phase.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from vaeops.data.sparse import SparseBatch
from vaeops.recommenders.settings import ModelParameters


@dataclass(frozen=True)
class TrainingPhase:
    """Passes over all training users that update only ``parameters``, with the
    input dropout of that phase; one epoch runs a model's phases in order."""

    name: str
    parameters: list[nn.Parameter]
    passes: int
    input_dropout: float


def _normalised_input(
    layer: nn.EmbeddingBag, bias: torch.Tensor, batch: SparseBatch, dropout: float, training: bool
) -> torch.Tensor:
    """``dropout(normalize(x)) @ W + b`` for a sparse batch, as in both authors' code."""
    values = batch.values
    norms = torch.zeros(batch.n_rows, device=values.device, dtype=values.dtype)
    norms.index_add_(0, batch.row_of_value, values * values)
    values = values * norms.clamp_min(1e-24).rsqrt()[batch.row_of_value]
    values = F.dropout(values, p=dropout, training=training)
    return layer(batch.columns, batch.offsets, per_sample_weights=values) + bias


class _SparseInputAutoencoder(nn.Module):
    """Shared input layer, decoder and likelihood of Mult-VAE and Mult-DAE."""

    def __init__(self, config: ModelParameters, n_items: int, encoder_out_dim: int):
        super().__init__()
        self.config, self.n_items = config, n_items
        encoder_dims = [*config.hidden_dims, encoder_out_dim]
        decoder_dims = [config.latent_dim, *reversed(config.hidden_dims), n_items]
        self.input_layer = nn.EmbeddingBag(n_items, encoder_dims[0], mode="sum")
        self.input_bias = nn.Parameter(torch.empty(encoder_dims[0]))
        self.encoder = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in pairwise(encoder_dims)
        )
        self.decoder = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in pairwise(decoder_dims)
        )
        self.input_dropout = config.dropout
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

    def training_phases(self) -> list[TrainingPhase]:
        return [TrainingPhase("all", list(self.parameters()), 1, self.config.dropout)]

    def end_phase(self, name: str) -> None:
        """Called after each training phase; Mult-VAE and Mult-DAE need nothing."""

    def _encode_hidden(self, batch: SparseBatch) -> torch.Tensor:
        h = _normalised_input(
            self.input_layer, self.input_bias, batch, self.input_dropout, self.training
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

    def __init__(self, config: ModelParameters, n_items: int):
        super().__init__(config, n_items, encoder_out_dim=2 * config.latent_dim)

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

    def __init__(self, config: ModelParameters, n_items: int):
        super().__init__(config, n_items, encoder_out_dim=config.latent_dim)

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


class _RecVAEEncoder(nn.Module):
    """Five dense layers, each fed the sum of all earlier outputs, swish then layer norm."""

    def __init__(self, n_items: int, hidden_dim: int, latent_dim: int, depth: int = 5):
        super().__init__()
        self.input_layer = nn.EmbeddingBag(n_items, hidden_dim, mode="sum")
        self.input_bias = nn.Parameter(torch.zeros(hidden_dim))
        bound = 1 / math.sqrt(n_items)  # nn.Linear's default initialisation, as the authors use
        nn.init.uniform_(self.input_layer.weight, -bound, bound)
        nn.init.uniform_(self.input_bias, -bound, bound)
        self.hidden = nn.ModuleList(nn.Linear(hidden_dim, hidden_dim) for _ in range(depth - 1))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_dim, eps=0.1) for _ in range(depth))
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)

    def forward(self, batch: SparseBatch, dropout: float) -> tuple[torch.Tensor, torch.Tensor]:
        first = _normalised_input(self.input_layer, self.input_bias, batch, dropout, self.training)
        h = self.norms[0](F.silu(first))
        earlier = h
        for layer, norm in zip(self.hidden, self.norms[1:], strict=True):
            h = norm(F.silu(layer(h) + earlier))
            earlier = earlier + h
        return self.mu(h), self.logvar(h)


_LOG_2PI = math.log(2 * math.pi)
# The authors' mixture: standard normal, previous posterior, wide normal (log-variance 10).
_PRIOR_WEIGHTS = (3 / 20, 3 / 4, 1 / 10)
_WIDE_LOGVAR = 10.0


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor | float) -> torch.Tensor:
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return -0.5 * (logvar + _LOG_2PI + (z - mu).square() / logvar.exp())


class RecVAE(nn.Module):
    """RecVAE (Shenbin et al., WSDM 2020) with the sparse input and fused likelihood above."""

    def __init__(self, config: ModelParameters, n_items: int):
        super().__init__()
        if len(config.hidden_dims) != 1:
            raise ValueError(
                "RecVAE has one hidden width shared by its five encoder layers; set "
                f"hidden_dims to one value such as [600], not {config.hidden_dims}."
            )
        self.config, self.n_items = config, n_items
        self.encoder = _RecVAEEncoder(n_items, config.hidden_dims[0], config.latent_dim)
        self.previous_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.decoder = nn.Linear(config.latent_dim, n_items)
        self.input_dropout = config.dropout

    def training_phases(self) -> list[TrainingPhase]:
        return [
            TrainingPhase(
                "encoder",
                list(self.encoder.parameters()),
                self.config.encoder_passes,
                self.config.dropout,
            ),
            TrainingPhase(
                "decoder", list(self.decoder.parameters()), self.config.decoder_passes, 0.0
            ),
        ]

    def end_phase(self, name: str) -> None:
        if name == "encoder":
            self.previous_encoder.load_state_dict(self.encoder.state_dict())

    def weight_matrices(self) -> list[torch.Tensor]:
        return [p for name, p in self.named_parameters() if p.requires_grad and p.dim() == 2]

    def forward(
        self, batch: SparseBatch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(batch, self.input_dropout)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), z, mu, logvar

    def composite_prior(self, batch: SparseBatch, z: torch.Tensor) -> torch.Tensor:
        """Log-density of ``z`` under the mixture, per latent dimension."""
        with torch.no_grad():
            previous_mu, previous_logvar = self.previous_encoder(batch, 0.0)
        components = torch.stack(
            [
                _log_normal(z, 0.0, 0.0) + math.log(_PRIOR_WEIGHTS[0]),
                _log_normal(z, previous_mu.float(), previous_logvar.float())
                + math.log(_PRIOR_WEIGHTS[1]),
                _log_normal(z, 0.0, _WIDE_LOGVAR) + math.log(_PRIOR_WEIGHTS[2]),
            ],
            dim=-1,
        )
        return torch.logsumexp(components, dim=-1)

    def loss(
        self, batch: SparseBatch, beta: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """β is unused: RecVAE weighs each user's KL by ``gamma`` times their clicks."""
        logits, z, mu, logvar = self(batch)
        nll = _SparseInputAutoencoder.multinomial_nll(logits, batch)
        z, mu, logvar = z.float(), mu.float(), logvar.float()
        kl_per_user = (_log_normal(z, mu, logvar) - self.composite_prior(batch, z)).sum(dim=1)
        kl = (kl_per_user * self.config.gamma * batch.row_sums()).mean()
        return nll + kl, nll, kl

    def score(self, batch: SparseBatch) -> torch.Tensor:
        return self(batch)[0]


MODEL_CLASSES = {"multvae": MultVAE, "multdae": MultDAE, "recvae": RecVAE}
Autoencoder = MultVAE | MultDAE | RecVAE


def build_model(config: ModelParameters, n_items: int) -> Autoencoder:
    return MODEL_CLASSES[config.kind](config, n_items)


def saved_config(model: Autoencoder) -> dict:
    """The architecture stored beside the weights (model_config.json): the model's
    settings and its number of items."""
    settings = model.config.model_dump(exclude_none=True)
    return {"kind": settings.pop("kind"), "n_items": model.n_items, **settings}


def load_model(
    config: dict, weights: dict[str, torch.Tensor], device: torch.device | str = "cpu"
) -> Autoencoder:
    """A trained model ready to score: the architecture from its saved ``config``
    (``saved_config``), the saved ``weights`` loaded, moved to ``device`` and switched
    to evaluation mode."""
    settings = ModelParameters.model_validate({k: v for k, v in config.items() if k != "n_items"})
    model = build_model(settings, config["n_items"])
    model.load_state_dict(weights)
    return model.to(device).eval()
