"""The settings of the augmentation study (``augmentation`` in parameters_augmentation.yml):
what each key may hold and how the keys must agree. The defaults live in that YAML; the
study's code takes these models as they are.

The checks that span blocks (a selected data set, arm or regime that is not defined,
no `none` arm to compare with) live here too, so that a typo fails before any training.
"""

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    create_model,
    model_validator,
)

from vaeops.schema import (
    Block,
    Fraction,
    Probability,
    StudyParameters,
    overrides_of,
    search_space_of,
)

SOURCES = ("digits", "breast_cancer", "wine", "moons", "file")
SCALINGS = ("standardize", "unit_interval")
LOSSES = ("cross_entropy", "focal")
SAMPLING_MODES = ("prior", "posterior", "local")
BASELINE_ARM = "none"
CLASSIFIERS = ("mlp", "logistic_regression")
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall")


class AugmentationDatasetParameters(Block):
    """Keys past ``regimes`` belong to one source: moons (n_samples, noise, seed) or
    file (path, label, features); image_shape and interpolation_classes to images."""

    source: Literal[SOURCES]
    scaling: Literal[SCALINGS]
    regimes: Annotated[list[str], Field(min_length=1)]
    minority_class: str | int | None = None
    image_shape: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] | None = None
    interpolation_classes: list[str | int] | None = None
    n_samples: PositiveInt = None
    noise: NonNegativeFloat = None
    seed: int = None
    path: str = None
    label: str = None
    features: list[str] | None = None


class MlpParameters(Block):
    hidden_dims: list[PositiveInt]
    epochs: PositiveInt
    learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat
    loss: Literal[LOSSES]
    focal_gamma: NonNegativeFloat


class LogisticRegressionParameters(Block):
    C: PositiveFloat
    max_iter: PositiveInt


class ClassifiersParameters(Block):
    mlp: MlpParameters = None
    logistic_regression: LogisticRegressionParameters = None


class RegimeParameters(Block):
    """per_class rows of each class or a stratified fraction, then optionally a
    minority class cut to minority_ratio of the largest; mlp overrides classifiers.mlp."""

    per_class: Annotated[int, Field(ge=2)] = None
    fraction: Annotated[float, Field(gt=0, le=1)] = None
    minority_ratio: Fraction = None
    mlp: overrides_of(MlpParameters) = None

    @model_validator(mode="after")
    def _one_size(self) -> "RegimeParameters":
        if (self.per_class is None) == (self.fraction is None):
            raise ValueError("needs exactly one of per_class and fraction")
        return self

    @property
    def imbalanced(self) -> bool:
        return self.minority_ratio is not None


class ProtocolParameters(Block):
    repeats: PositiveInt
    folds: Annotated[int, Field(ge=2)]
    tuning_fraction: Fraction
    seed: int


class NoSettings(Block):
    """The arm every other is compared with: the real rows alone."""


class NoiseSettings(Block):
    ratio: NonNegativeFloat
    scale: PositiveFloat


class SmoteSettings(Block):
    ratio: NonNegativeFloat
    k_neighbors: PositiveInt


class CvaeSettings(Block):
    ratio: NonNegativeFloat
    beta: NonNegativeFloat
    latent_dim: PositiveInt
    hidden_dim: PositiveInt
    epochs: PositiveInt
    learning_rate: PositiveFloat
    sampling: Literal[SAMPLING_MODES]
    tau: NonNegativeFloat
    min_confidence: Probability | None


ARM_SETTINGS: dict[str, type[Block]] = {
    BASELINE_ARM: NoSettings,
    "noise": NoiseSettings,
    "smote": SmoteSettings,
    "cvae": CvaeSettings,
}


def arm_settings(arm: str, values: dict) -> Block:
    """An arm's settings as tuning chose them (a plain mapping, as the JSON data set
    holds them), checked into the arm's settings model."""
    return ARM_SETTINGS[arm].model_validate(values)


def _arm(settings: type[Block]) -> type[Block]:
    """An arm's entry: its settings, and a search space over those settings."""
    return create_model(
        settings.__name__.replace("Settings", "Arm"),
        __base__=Block,
        settings=(settings, ...),
        n_trials=(NonNegativeInt, ...),
        search_space=(search_space_of(settings), ...),
    )


class ArmsParameters(Block):
    none: _arm(NoSettings) = None
    noise: _arm(NoiseSettings) = None
    smote: _arm(SmoteSettings) = None
    cvae: _arm(CvaeSettings) = None


class AugmentationTuningParameters(Block):
    inner_splits: PositiveInt
    metric: Literal[METRICS]
    study: StudyParameters


class StatisticsParameters(Block):
    metric: Literal[METRICS]
    rope: NonNegativeFloat
    decision_probability: Fraction


class FiguresParameters(Block):
    samples_per_class: PositiveInt
    interpolation_steps: Annotated[int, Field(ge=2)]


class AugmentationParameters(Block):
    selected_datasets: list[str]
    datasets: dict[str, AugmentationDatasetParameters]
    regimes: dict[str, RegimeParameters]
    protocol: ProtocolParameters
    selected_arms: list[Literal[tuple(ARM_SETTINGS)]]
    arms: ArmsParameters
    selected_classifiers: list[Literal[CLASSIFIERS]]
    classifiers: ClassifiersParameters
    tuning: AugmentationTuningParameters
    statistics: StatisticsParameters
    figures: FiguresParameters
    splits_per_task: PositiveInt
    n_jobs: int  # joblib's: -1 is every core

    @model_validator(mode="after")
    def _selection_defined(self) -> "AugmentationParameters":
        """Every selected data set, regime, arm and classifier is defined, and `none` is
        among the arms: every arm is compared with it."""
        problems = [
            f"selected_datasets names {name!r}, which datasets does not define"
            for name in self.selected_datasets
            if name not in self.datasets
        ]
        if BASELINE_ARM not in self.selected_arms:
            problems.append(f"selected_arms must include {BASELINE_ARM!r}")
        problems += [
            f"selected_arms names {arm!r}, which arms does not define"
            for arm in self.selected_arms
            if getattr(self.arms, arm) is None
        ]
        problems += [
            f"selected_classifiers names {name!r}, which classifiers does not define"
            for name in self.selected_classifiers
            if getattr(self.classifiers, name) is None
        ]
        problems += [
            f"datasets.{name}.regimes names {regime!r}, which regimes does not define"
            for name in self.selected_datasets
            if name in self.datasets
            for regime in self.datasets[name].regimes
            if regime not in self.regimes
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def arm(self, name: str) -> Block:
        """The entry of arm ``name``: its settings, n_trials and search space."""
        return getattr(self.arms, name)

    def imbalanced_regimes(self) -> set[str]:
        return {name for name, regime in self.regimes.items() if regime.imbalanced}
