"""The whole configuration checked before a run, and each node handed its settings typed.

Kedro hands nodes plain dictionaries, so a misspelt key (``training.learnin_rate``) or a
value of the wrong type used to surface only when a node read it: after kedro-mlflow
had opened its run, as a long traceback. ``check_parameters`` checks the whole
configuration, ``--params`` overrides included, and names every bad key by its dotted
path. ``typed_inputs`` then gives each node the settings model its signature asks for
(``training: TrainingParameters``) instead of the dictionary, so the checked object is
the one that runs. The models are strict: a value must already have the type the code
uses (``"5"`` is no int).

A field whose default is None may be left out (the code does without it) but, unless
its type allows None, not set to null.
"""

import inspect
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import click
from pydantic import (
    BaseModel,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
)

from vaeops.augmentation.arms import ARM_SETTINGS, CLASSIFIERS, METRICS
from vaeops.augmentation.classifiers import LOSSES
from vaeops.augmentation.cvae import SAMPLING_MODES
from vaeops.augmentation.datasets import SCALINGS, SOURCES
from vaeops.data.settings import (
    CarvedValidationParameters,
    DatasetParameters,
    GivenSplitDatasetParameters,
    PreprocessingParameters,
)
from vaeops.errors import DataError
from vaeops.recommenders.models import MODEL_CLASSES
from vaeops.recommenders.training import PRECISION_CHOICES
from vaeops.schema import (
    Block,
    Fraction,
    Grid,
    Probability,
    block_in,
    overrides_of,
    search_space_of,
)


class ParameterError(click.ClickException, DataError):
    """Parameters that do not fit their schema. As a ClickException, `kedro run` prints
    just the message and exits with status 1, without a traceback."""


# --------------------------------------------------------------------------- recommenders


class ModelParameters(Block):
    kind: Literal[tuple(MODEL_CLASSES)]
    hidden_dims: list[PositiveInt]
    latent_dim: PositiveInt
    dropout: Annotated[float, Field(ge=0, lt=1)]
    # RecVAE only.
    gamma: PositiveFloat = None
    encoder_passes: PositiveInt = None
    decoder_passes: PositiveInt = None


class TrainingParameters(Block):
    model: ModelParameters
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    anneal_cap: NonNegativeFloat
    anneal_share: Annotated[
        float, Field(ge=0, le=1)
    ]  # 0: the KL weight is anneal_cap from the start
    total_anneal_steps: NonNegativeInt | None = (
        None  # the paper's absolute form; overrides the share
    )
    patience: PositiveInt | None = None  # None: train every epoch
    l2_penalty: NonNegativeFloat
    validation_k: PositiveInt
    eval_batch_size: PositiveInt
    seed: int
    device: str  # auto, cpu, cuda, cuda:1, mps: torch's device names
    precision: Literal[PRECISION_CHOICES]


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


class SamplerParameters(Block):
    name: str  # a class of optuna.samplers
    seed: int | None = None
    kwargs: dict[str, Any] = None


class PrunerParameters(Block):
    name: str  # a class of optuna.pruners
    kwargs: dict[str, Any] = None


class StudyParameters(Block):
    storage: str | None  # an SQLAlchemy URL; null keeps the study in memory
    direction: Literal["maximize", "minimize"]
    sampler: SamplerParameters
    pruner: PrunerParameters


class NamedStudyParameters(StudyParameters):
    name: str  # the study is <name>-<dataset>
    heartbeat_interval: PositiveInt | None = None  # null: no heartbeats, stale trials stay
    grace_period: PositiveInt | None = None  # null: twice heartbeat_interval


class TuningParameters(Block):
    study: NamedStudyParameters
    n_trials: NonNegativeInt
    timeout_seconds: PositiveFloat | None
    search_space: search_space_of(TrainingParameters)
    contour_params: list[str]


class TuningGivenSplitParameters(Block):
    autoencoder: str  # a key of benchmark.autoencoders
    training: overrides_of(TrainingParameters) | None
    tuning: overrides_of(TuningParameters)


class NoKeywords(Block):
    """A baseline that takes no settings."""


class EaseParameters(Block):
    l2: Grid[PositiveFloat]


class ItemKnnParameters(Block):
    k: Grid[PositiveInt]
    shrink: Grid[NonNegativeFloat]


class MatrixFactorizationParameters(Block):
    factors: Grid[PositiveInt]
    epochs: PositiveInt
    reg: Grid[NonNegativeFloat]
    alpha: Grid[NonNegativeFloat]
    seed: int


class BaselinesParameters(Block):
    """Keyword arguments of the vaeops.recommenders.baselines classes; null or left out:
    their defaults. A list of values is a grid, chosen from on the validation users."""

    popularity: NoKeywords | None = None
    ease: EaseParameters | None = None
    itemknn: ItemKnnParameters | None = None
    mf: MatrixFactorizationParameters | None = None


class PublishedParameters(Block):
    source: str
    models: dict[str, dict[str, float]]  # model: {metric: value}


class BenchmarkParameters(Block):
    models: dict[str, bool]
    reference: str
    headline_metric: str
    # The cut-off of the validation NDCG behind every choice; None: training.validation_k.
    validation_k: PositiveInt | None = None
    table_metrics: dict[str, str]  # metric: column heading
    rope: NonNegativeFloat
    bootstrap_samples: PositiveInt
    bootstrap_seed: int
    evaluation: EvaluationParameters
    baselines: BaselinesParameters
    autoencoders: dict[str, overrides_of(TrainingParameters) | None]
    published: PublishedParameters | None = None


class BenchmarkGivenSplitParameters(overrides_of(BenchmarkParameters)):
    """Entries merged key by key over ``benchmark``; the data set with the split, the
    validation carved from its train part, whether to refit, and published rows."""

    dataset: GivenSplitDatasetParameters
    validation: CarvedValidationParameters
    refit: bool
    published: dict[str, PublishedParameters] | None = None  # by dataset name


class RetrainingParameters(Block):
    extra_files: list[str] | None
    metric: str  # ndcg_at_K or recall_at_K
    promotion_probability: Probability
    rope: NonNegativeFloat
    min_catalogue_overlap: Probability
    allow_fewer_users: bool
    force: bool
    lock_file: str


class ServingParameters(Block):
    default_k: PositiveInt
    max_k: PositiveInt
    max_histories: PositiveInt
    max_history_length: PositiveInt


class RegistryParameters(Block):
    model_name: str
    serving: ServingParameters


# --------------------------------------------------------------------------- augmentation


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


# --------------------------------------------------------------------------- the whole


class Parameters(Block):
    """Every block of conf/<env>/parameters*.yml, as Kedro merges them."""

    dataset: DatasetParameters
    preprocessing: PreprocessingParameters
    training: TrainingParameters
    checkpoint: CheckpointParameters
    evaluation: EvaluationParameters
    reporting: ReportingParameters
    tuning: TuningParameters
    tuning_given_split: TuningGivenSplitParameters
    benchmark: BenchmarkParameters
    benchmark_given_split: BenchmarkGivenSplitParameters
    retraining: RetrainingParameters
    registry: RegistryParameters
    augmentation: AugmentationParameters


def check_parameters(params: Mapping[str, Any]) -> None:
    """Raise ParameterError naming every key of ``params`` that does not fit its schema."""
    try:
        Parameters.model_validate(params)
    except ValidationError as error:
        problems = "\n".join(f"  {line}" for line in _describe(error, params))
        raise ParameterError(
            "Invalid parameters (conf/<env>/parameters*.yml or --params); nothing ran:\n" + problems
        ) from None


def _describe(error: ValidationError, params: Mapping[str, Any]) -> list[str]:
    """One line per bad key: pydantic reports a value that fits no member of a union
    once per member, and those reports share a line."""
    by_path: dict[str, list[dict]] = {}
    for problem in error.errors(include_url=False):
        path = _dotted(params, problem["loc"])
        if problem["type"] == "unknown_keys":
            valid = ", ".join(problem["ctx"]["valid"])
            for key in problem["ctx"]["unknown"]:
                by_path[_join(path, key)] = [
                    {"msg": f"unknown key; valid keys of {path or 'the parameters'}: {valid}"}
                ]
        elif problem["type"] == "missing":
            by_path[_join(path, problem["loc"][-1])] = [{"msg": "missing"}]
        else:
            by_path.setdefault(path, []).append(problem)
    return [_line(path, problems) for path, problems in by_path.items()]


def _line(path: str, problems: list[dict]) -> str:
    expected = [
        problem["msg"].removeprefix("Input should be ")
        for problem in problems
        if problem["msg"].startswith("Input should be ")
    ]
    if expected:
        return (
            f"{path}: expected {' or '.join(dict.fromkeys(expected))}, got {problems[0]['input']!r}"
        )
    return f"{path}: " + "; ".join(
        problem["msg"].removeprefix("Value error, ") for problem in problems
    )


def _dotted(params: Mapping[str, Any], location: Sequence[str | int]) -> str:
    """The dotted key of an error's location; the names pydantic adds for the members of
    a union are no keys of ``params`` and are left out."""
    keys: list[str] = []
    value: Any = params
    for part in location:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            continue
        keys.append(str(part))
    return ".".join(keys)


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def plain_parameters(value: Any) -> Any:
    """``value`` with every settings model turned back into the mapping it was read from.

    Kedro 1.7 itself puts the model a node's annotation names into the parameters
    (kedro.validation), so hooks and kedro-mlflow, which read, flatten and log the YAML's
    mappings, would otherwise see models.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: plain_parameters(item) for key, item in value.items()}
    return value


def typed_inputs(func: Any, input_names: Sequence[str], inputs: Mapping[str, Any]) -> dict:
    """The ``params:`` inputs of a node whose parameter is annotated with a settings block,
    validated into that block; ``input_names`` are bound to ``func``'s parameters in order,
    as Kedro binds them."""
    hints = typing.get_type_hints(func)
    parameters = list(inspect.signature(func).parameters)
    typed = {}
    for name, dataset in zip(parameters, input_names, strict=False):
        block = block_in(hints.get(name))
        value = inputs.get(dataset)
        if block is not None and dataset.startswith("params:") and isinstance(value, Mapping):
            try:
                typed[dataset] = block.model_validate(value)
            except ValidationError as error:
                problems = "\n".join(f"  {line}" for line in _describe(error, value))
                raise ParameterError(
                    f"Invalid {dataset.removeprefix('params:')}:\n{problems}"
                ) from None
    return typed
