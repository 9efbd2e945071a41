"""What the recommender blocks of conf/base/parameters*.yml may hold: the model, its
training and checkpoints, the evaluation and the reports.

These models are what the core takes: a node receives its block validated into one of
them, and the training loop reads the same object. Every default lives in the YAML; a
field here only says what a key may hold (None: absent, the code does without).
"""

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from vaeops.schema import Block, NamedStudyParameters, search_space_of

# The autoencoders vaeops.recommenders.models builds, by the name ``model.kind`` gives.
MODEL_KINDS = ("multvae", "multdae", "recvae")
# "bf16" runs the forward pass under bfloat16 autocast (loss and optimizer state stay
# float32); "auto" takes bf16 only where the device computes it natively.
PRECISION_CHOICES = ("auto", "fp32", "bf16")


class ModelParameters(Block):
    kind: Literal[MODEL_KINDS]
    hidden_dims: list[PositiveInt]
    latent_dim: PositiveInt
    dropout: Annotated[float, Field(ge=0, lt=1)]
    # RecVAE only: the KL weight per user is gamma times the user's click count, and each
    # epoch takes encoder_passes encoder passes, then decoder_passes.
    gamma: PositiveFloat = None
    encoder_passes: PositiveInt = None
    decoder_passes: PositiveInt = None

    @model_validator(mode="after")
    def _recvae_settings_given(self) -> "ModelParameters":
        recvae_only = {
            "gamma": self.gamma,
            "encoder_passes": self.encoder_passes,
            "decoder_passes": self.decoder_passes,
        }
        missing = [name for name, value in recvae_only.items() if value is None]
        if self.kind == "recvae" and missing:
            raise ValueError(f"a recvae model needs {', '.join(missing)}")
        return self


class TrainingParameters(Block):
    model: ModelParameters
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    anneal_cap: NonNegativeFloat
    # β reaches anneal_cap after this share of the planned updates; 0: from the start.
    # Above 1, β reaches its cap after the planned epochs: a benchmark's refit, which
    # plans only the kept epochs, keeps the choosing run's schedule that way.
    anneal_share: NonNegativeFloat
    # The paper's absolute form, β = updates / total_anneal_steps (capped); overrides
    # the share.
    total_anneal_steps: NonNegativeInt | None
    # Epochs without a better validation NDCG before stopping, counted once β is at its
    # cap; None trains every epoch.
    patience: PositiveInt | None
    # Sum of squared weights added to the loss.
    l2_penalty: NonNegativeFloat
    validation_k: PositiveInt
    eval_batch_size: PositiveInt
    seed: int
    device: str  # auto, cpu, cuda, cuda:1, mps: torch's device names
    precision: Literal[PRECISION_CHOICES]

    def updates_to_cap(self, updates_per_epoch: int) -> int:
        """The update at which β reaches ``anneal_cap``."""
        if self.total_anneal_steps is not None:
            return round(self.anneal_cap * self.total_anneal_steps)
        return round(self.anneal_share * self.epochs * updates_per_epoch)


class CheckpointParameters(Block):
    every_epochs: PositiveInt
    dir: str  # the training pipeline's checkpoint is <dir>/training.pt


class EvaluationParameters(Block):
    ks: Annotated[list[PositiveInt], Field(min_length=1)]
    batch_size: PositiveInt
    device: str


class UserMapParameters(Block):
    projection: Literal["pca", "tsne", "umap"]
    max_genres_in_legend: PositiveInt


class ItemNeighboursParameters(Block):
    n_items: PositiveInt
    n_neighbours: PositiveInt


class TraversalParameters(Block):
    steps: Annotated[int, Field(ge=2)]  # both ends included
    top_k: PositiveInt


class PosteriorParameters(Block):
    active_threshold_nats: NonNegativeFloat


class ReportingParameters(Block):
    device: str
    batch_size: PositiveInt
    seed: int
    user_map: UserMapParameters
    item_neighbours: ItemNeighboursParameters
    traversal: TraversalParameters
    posterior: PosteriorParameters


class TuningParameters(Block):
    study: NamedStudyParameters
    n_trials: NonNegativeInt
    timeout_seconds: PositiveFloat | None
    search_space: search_space_of(TrainingParameters)
    contour_params: list[str]

    @model_validator(mode="after")
    def _contour_params_are_searched(self) -> "TuningParameters":
        """The contour plot is drawn after every trial ran: a parameter it names that is
        not searched fails here instead."""
        searched = self.search_space.flattened()
        if not set(self.contour_params) <= set(searched):
            raise ValueError(
                f"tuning.contour_params {self.contour_params} must name two entries of "
                f"tuning.search_space: {sorted(searched)}."
            )
        return self
