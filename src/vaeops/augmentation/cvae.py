"""A class-conditional VAE (Sohn et al. 2015) that generates labelled training data.

Encoder ``q(z | x, y)`` and decoder ``p(x | z, y)`` both see the one-hot label,
so a sample is drawn for a chosen class by decoding with that label. The
training objective is the β-weighted negative ELBO, fitted with full-batch
Adam: the data sets it is meant for (a few to a few hundred rows per class)
fit in one batch, and a full batch makes every epoch the same computation.
``fit_cvaes`` trains the generators of many splits side by side (see
``vaeops.augmentation.batched``); each one still sees only its own training rows.

Likelihoods, tied to how the features were scaled:

- ``bernoulli`` for features in [0, 1] such as grey-level pixels: the decoder
  gives per-pixel logits and the loss is the binary cross-entropy, which is
  minimised by predicting the grey level itself (it is not a normalised density
  for grey levels, which only shifts how reconstruction trades off against
  β·KL). A synthetic image is the decoder *mean*, a grey-level image, rather
  than a binary draw, which would not look like the real data.
- ``gaussian`` for standardised tabular features: the decoder gives the mean and
  a learned per-feature standard deviation, floored at ``MIN_GAUSSIAN_SCALE``
  so that a few rows cannot be memorised with a vanishing variance. A synthetic
  row is a draw from ``N(mean, scale^2)``; the mean alone would be less spread
  than the data.

Three ways to pick the latent code of a synthetic sample of class ``c``:

- ``prior``: ``z ~ N(0, I)``, what the VAE promises but rarely delivers on tiny data;
- ``posterior``: ``z`` from a diagonal Gaussian fitted to the encoder means of the
  training rows of class ``c`` (diagonal, because a class may have fewer rows than
  latent dimensions);
- ``local``: ``z = mu(x) + tau * sigma(x) * eps`` around a random training row ``x``
  of class ``c``: variations of real samples, ``tau`` sets how far they stray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vaeops.augmentation.batched import BatchedLinear, check_training_sets, masked_mean, pad_rows
from vaeops.augmentation.settings import SAMPLING_MODES, CvaeSettings

LIKELIHOODS = ("bernoulli", "gaussian")
MIN_GAUSSIAN_SCALE = 0.05


class ConditionalVAE(nn.Module):
    """``n_models`` independent CVAEs on ``(n_models, rows, ...)`` tensors:
    x, one-hot y -> (mu, logvar) of z; z, one-hot y -> parameters of p(x | z, y)."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        settings: CvaeSettings,
        likelihood: str,
        generators: Sequence[torch.Generator],
    ):
        super().__init__()
        self.n_features, self.n_classes = n_features, n_classes
        self.settings, self.likelihood = settings, likelihood
        hidden, latent = settings.hidden_dim, settings.latent_dim
        self.encoder = BatchedLinear(n_features + n_classes, hidden, generators)
        self.to_mu = BatchedLinear(hidden, latent, generators)
        self.to_logvar = BatchedLinear(hidden, latent, generators)
        self.decoder_hidden = BatchedLinear(latent + n_classes, hidden, generators)
        self.decoder_out = BatchedLinear(hidden, n_features, generators)
        if likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.zeros(len(generators), 1, n_features))

    def encode(self, x: torch.Tensor, y_onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.tanh(self.encoder(torch.cat([x, y_onehot], dim=2)))
        return self.to_mu(hidden), self.to_logvar(hidden)

    def decode(self, z: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        """Logits (bernoulli) or means (gaussian) of ``p(x | z, y)``."""
        return self.decoder_out(torch.tanh(self.decoder_hidden(torch.cat([z, y_onehot], dim=2))))

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp_min(MIN_GAUSSIAN_SCALE)

    def negative_log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """``-log p(x | z, y)`` per row, summed over features: ``(n_models, rows)``."""
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(dim=2)
        scale = self.scale()
        standardised = (x - decoded) / scale
        return (0.5 * standardised.pow(2) + scale.log() + 0.5 * math.log(2 * math.pi)).sum(dim=2)

    def negative_elbo(
        self, x: torch.Tensor, y_onehot: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-model ``NLL + beta * KL`` averaged over real rows, with its two terms;
        ``noise`` is the standard normal draw of the reparameterised z."""
        mu, logvar = self.encode(x, y_onehot)
        z = mu + noise * (0.5 * logvar).exp()
        nll = masked_mean(self.negative_log_likelihood(x, self.decode(z, y_onehot)), mask)
        kl = masked_mean(0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=2), mask)
        return nll + self.settings.beta * kl, nll, kl

    def select(self, index: int) -> ConditionalVAE:
        """Model ``index`` alone, as a one-model CVAE (a copy)."""
        single = ConditionalVAE.__new__(ConditionalVAE)
        nn.Module.__init__(single)
        single.n_features, single.n_classes = self.n_features, self.n_classes
        single.settings, single.likelihood = self.settings, self.likelihood
        for name in ("encoder", "to_mu", "to_logvar", "decoder_hidden", "decoder_out"):
            setattr(single, name, getattr(self, name).select(index))
        if self.likelihood == "gaussian":
            single.log_scale = nn.Parameter(self.log_scale.detach()[index : index + 1].clone())
        return single.eval()


@dataclass
class FittedCVAE:
    """One trained CVAE with the training rows it saw, which the posterior and
    local sampling modes draw on; it holds no other data."""

    model: ConditionalVAE
    train_x: torch.Tensor
    train_y: torch.Tensor
    history: np.ndarray  # negative ELBO per epoch

    def _onehot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.model.n_classes).float()

    @torch.no_grad()
    def negative_elbo(
        self, x: np.ndarray, labels: np.ndarray, seed: int, n_draws: int = 64
    ) -> float:
        """Monte Carlo estimate of the mean negative ELBO of rows with their labels."""
        # The draws are stacked as extra rows of the one model: (1, n_draws * rows, ...).
        x_t = _as_tensor(x).repeat(n_draws, 1)[None]
        y_t = self._onehot(torch.as_tensor(np.asarray(labels), dtype=torch.long)).repeat(
            n_draws, 1
        )[None]
        mu, logvar = self.model.encode(x_t, y_t)
        noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
        z = mu + noise * (0.5 * logvar).exp()
        nll = self.model.negative_log_likelihood(x_t, self.model.decode(z, y_t))
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=2)
        return float((nll + self.model.settings.beta * kl).mean())

    @torch.no_grad()
    def encode(self, x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder ``(mu, sigma)`` of rows with their labels."""
        y_t = self._onehot(torch.as_tensor(np.asarray(labels), dtype=torch.long))
        mu, logvar = self.model.encode(_as_tensor(x)[None], y_t[None])
        return mu[0].numpy(), (0.5 * logvar[0]).exp().numpy()

    @torch.no_grad()
    def decode_mean(self, z: np.ndarray, label_weights: np.ndarray) -> np.ndarray:
        """The decoder's mean for latent codes and (possibly mixed) label vectors,
        e.g. for interpolating between two classes."""
        decoded = self.model.decode(_as_tensor(z)[None], _as_tensor(label_weights)[None])[0]
        return (
            torch.sigmoid(decoded).numpy()
            if self.model.likelihood == "bernoulli"
            else decoded.numpy()
        )

    @torch.no_grad()
    def sample(self, labels: np.ndarray, mode: str, tau: float, seed: int) -> np.ndarray:
        """One synthetic row per entry of ``labels`` (class indices), float32."""
        if mode not in SAMPLING_MODES:
            raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {mode!r}.")
        labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        missing = sorted(set(labels_t.tolist()) - set(self.train_y.tolist()))
        if mode != "prior" and missing:
            raise ValueError(
                f"{mode} sampling draws on training rows of each class, but classes {missing} "
                "had none; use prior sampling or train on every class."
            )
        generator = torch.Generator().manual_seed(seed)
        latent_dim = self.model.settings.latent_dim
        noise = torch.randn(len(labels_t), latent_dim, generator=generator)
        if mode == "prior":
            z = noise
        else:
            mu, logvar = (
                t[0]
                for t in self.model.encode(self.train_x[None], self._onehot(self.train_y)[None])
            )
            if mode == "posterior":
                centre, spread = (
                    torch.empty(len(labels_t), latent_dim),
                    torch.empty(len(labels_t), latent_dim),
                )
                for label in labels_t.unique():
                    rows = self.train_y == label
                    wanted = labels_t == label
                    centre[wanted] = mu[rows].mean(dim=0)
                    spread[wanted] = mu[rows].std(dim=0, unbiased=False)
                z = centre + spread * noise
            else:
                anchors = _random_rows_of_class(self.train_y, labels_t, generator)
                z = mu[anchors] + tau * (0.5 * logvar[anchors]).exp() * noise
        decoded = self.model.decode(z[None], self._onehot(labels_t)[None])[0]
        if self.model.likelihood == "bernoulli":
            return torch.sigmoid(decoded).numpy()
        draws = torch.randn(decoded.shape, generator=generator)
        return (decoded + self.model.scale()[0] * draws).numpy()


def fit_cvae(
    x: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    settings: CvaeSettings,
    likelihood: str,
    seed: int,
) -> FittedCVAE:
    """Train on these rows only (full batch, Adam, ``settings.epochs`` steps), seeded."""
    return fit_cvaes([x], [labels], n_classes, settings, likelihood, [seed])[0]


def fit_cvaes(
    xs: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    n_classes: int,
    settings: CvaeSettings,
    likelihood: str,
    seeds: Sequence[int],
) -> list[FittedCVAE]:
    """One CVAE per training set, trained side by side; model ``i`` sees ``xs[i]`` only
    and gives the same result as ``fit_cvae(xs[i], labels[i], ..., seeds[i])``."""
    check_training_sets(xs, labels, n_classes, seeds)
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
    if likelihood == "bernoulli" and any(np.min(x) < 0 or np.max(x) > 1 for x in xs):
        raise ValueError(
            "the bernoulli likelihood needs features in [0, 1]; scale them to the unit interval "
            "or use the gaussian likelihood."
        )
    x_pad, mask = pad_rows(xs)
    y_pad, _ = pad_rows([np.eye(n_classes)[np.asarray(y)] for y in labels])
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    model = ConditionalVAE(x_pad.shape[2], n_classes, settings, likelihood, generators)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, fused=True)
    noise = torch.zeros(len(xs), x_pad.shape[1], settings.latent_dim)
    history = []
    model.train()
    for _ in range(settings.epochs):
        # Each model's noise comes from its own generator, for its own rows only.
        for index, (generator, x) in enumerate(zip(generators, xs, strict=True)):
            noise[index, : len(x)] = torch.randn(len(x), settings.latent_dim, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = model.negative_elbo(x_pad, y_pad, mask, noise)
        loss.sum().backward()
        optimizer.step()
        history.append(loss.detach())
    losses = torch.stack(history).numpy()
    diverged = ~np.isfinite(losses[-1])
    if diverged.any():
        raise FloatingPointError(
            f"CVAE training diverged for {int(diverged.sum())} of {len(xs)} training sets "
            f"(loss {losses[-1][diverged][0]}); lower the learning rate ({settings.learning_rate})."
        )
    return [
        FittedCVAE(
            model=model.select(index),
            train_x=_as_tensor(x),
            train_y=torch.as_tensor(np.asarray(y), dtype=torch.long),
            history=losses[:, index],
        )
        for index, (x, y) in enumerate(zip(xs, labels, strict=True))
    ]


def _random_rows_of_class(
    train_y: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    anchors = torch.empty(len(labels), dtype=torch.long)
    for label in labels.unique():
        candidates = torch.nonzero(train_y == label).squeeze(1)
        wanted = torch.nonzero(labels == label).squeeze(1)
        picks = torch.randint(len(candidates), (len(wanted),), generator=generator)
        anchors[wanted] = candidates[picks]
    return anchors


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))
