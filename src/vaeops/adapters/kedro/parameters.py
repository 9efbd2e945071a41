"""Typed schemas of every parameter block in conf/*/parameters*.yml, checked before a run.

Kedro hands nodes plain dictionaries, so a misspelt key (``training.learnin_rate``) or a
value of the wrong type used to surface only when a node read it: after kedro-mlflow
had opened its run, as a long traceback. ``check_parameters`` checks the whole
configuration, ``--params`` overrides included, and names every bad key by its dotted
path. Nodes still receive the plain dictionaries; these models only check them, so
they are strict: a value must already have the type the code uses (``"5"`` is no int).

A field whose default is None may be left out (the code has a default or does without
it) but, unless its type allows None, not set to null.
"""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, get_args

import click
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vaeops.augmentation.arms import ARM_SETTINGS, CLASSIFIERS, METRICS
from vaeops.augmentation.classifiers import LOSSES
from vaeops.augmentation.cvae import SAMPLING_MODES
from vaeops.augmentation.datasets import SCALINGS, SOURCES
from vaeops.data.ingest import DATASETS, given_split_datasets
from vaeops.errors import DataError
from vaeops.recommenders.models import MODEL_CLASSES
from vaeops.recommenders.training import PRECISION_CHOICES

Fraction = Annotated[float, Field(gt=0, lt=1)]
_Value = TypeVar("_Value")
# One value, or a list of values to choose from on validation users (a grid).
Grid = _Value | Annotated[list[_Value], Field(min_length=1)]
Probability = Annotated[float, Field(ge=0, le=1)]


class ParameterError(click.ClickException, DataError):
    """Parameters that do not fit their schema. As a ClickException, `kedro run` prints
    just the message and exits with status 1, without a traceback."""


# --------------------------------------------------------------------------- building blocks


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, values: Any) -> Any:
        """Unknown keys fail here rather than as pydantic's extra_forbidden, so that the
        error can list the block's valid keys."""
        if isinstance(values, Mapping):
            unknown = [key for key in values if key not in cls.model_fields]
            if unknown:
                raise PydanticCustomError(
                    "unknown_keys",
                    "unknown keys {unknown}",
                    {"unknown": unknown, "valid": list(cls.model_fields)},
                )
        return values


def _block_in(annotation: Any) -> type[_Block] | None:
    """The block type of a field typed ``Block`` or ``Block | None``, else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, _Block):
            return candidate
    return None


def overrides_of(block: type[_Block]) -> type[_Block]:
    """``block`` with every key optional, nested blocks too: entries merged key by key
    over a full block, e.g. ``benchmark.autoencoders.multdae`` over ``training``."""
    fields: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        nested = _block_in(info.annotation)
        if nested is None:
            annotation = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
        elif info.annotation is nested:
            annotation = overrides_of(nested)
        else:
            annotation = overrides_of(nested) | None
        fields[name] = (annotation, None)
    return create_model(f"{block.__name__}Overrides", __base__=_Block, **fields)


class Distribution(_Block):
    """One tuned setting: ``{type: float|int, low, high, log?, step?}`` or
    ``{type: categorical, choices: [...]}``, as Optuna's suggest_* take them."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: PositiveFloat | None = None
    choices: Annotated[list[Any], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _has_what_its_type_needs(self) -> "Distribution":
        needed = ("choices",) if self.type == "categorical" else ("low", "high")
        missing = [key for key in needed if getattr(self, key) is None]
        if missing:
            raise ValueError(f"a {self.type} distribution needs {' and '.join(missing)}")
        return self


def search_space_of(block: type[_Block]) -> type[_Block]:
    """A search space over ``block``: a distribution for any of its keys, nested as the
    block is (``model: {latent_dim: {type: int, ...}}``), so a misspelt name fails early."""
    fields: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        nested = _block_in(info.annotation)
        fields[name] = (Distribution if nested is None else search_space_of(nested), None)
    return create_model(f"{block.__name__}SearchSpace", __base__=_Block, **fields)


# --------------------------------------------------------------------------- recommenders


class ColumnsParameters(_Block):
    user: str
    item: str
    rating: str | None
    timestamp: str | None


class DatasetParameters(_Block):
    name: Literal[tuple(DATASETS)]
    path: str | None
    raw_dir: str
    columns: ColumnsParameters
    separator: Annotated[str, Field(min_length=1)] | None = None  # None: by the file's suffix


class PreprocessingParameters(_Block):
    rating_threshold: float | None
    min_user_count: NonNegativeInt
    min_item_count: NonNegativeInt
    # A count of users, or a fraction of them: validation and test take one each.
    n_heldout_users: PositiveInt | Annotated[float, Field(gt=0, lt=0.5)]
    target_fraction: Fraction
    seed: int


class ModelParameters(_Block):
    kind: Literal[tuple(MODEL_CLASSES)]
    hidden_dims: list[PositiveInt]
    latent_dim: PositiveInt
    dropout: Annotated[float, Field(ge=0, lt=1)]
    # RecVAE only.
    gamma: PositiveFloat = None
    encoder_passes: PositiveInt = None
    decoder_passes: PositiveInt = None


class TrainingParameters(_Block):
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


class CheckpointParameters(_Block):
    every_epochs: PositiveInt
    dir: str  # the training pipeline's checkpoint is <dir>/training.pt


class EvaluationParameters(_Block):
    ks: Annotated[list[PositiveInt], Field(min_length=1)]
    batch_size: PositiveInt
    device: str


class UserMapParameters(_Block):
    projection: Literal["pca", "tsne", "umap"]
    max_genres_in_legend: PositiveInt


class ItemNeighboursParameters(_Block):
    n_items: PositiveInt
    n_neighbours: PositiveInt


class TraversalParameters(_Block):
    steps: Annotated[int, Field(ge=2)]  # both ends included
    top_k: PositiveInt


class PosteriorParameters(_Block):
    active_threshold_nats: NonNegativeFloat


class ReportingParameters(_Block):
    device: str
    batch_size: PositiveInt
    seed: int
    user_map: UserMapParameters
    item_neighbours: ItemNeighboursParameters
    traversal: TraversalParameters
    posterior: PosteriorParameters


class SamplerParameters(_Block):
    name: str  # a class of optuna.samplers
    seed: int | None = None
    kwargs: dict[str, Any] = None


class PrunerParameters(_Block):
    name: str  # a class of optuna.pruners
    kwargs: dict[str, Any] = None


class StudyParameters(_Block):
    storage: str | None  # an SQLAlchemy URL; null keeps the study in memory
    direction: Literal["maximize", "minimize"]
    sampler: SamplerParameters
    pruner: PrunerParameters


class NamedStudyParameters(StudyParameters):
    name: str  # the study is <name>-<dataset>
    heartbeat_interval: PositiveInt | None = None  # null: no heartbeats, stale trials stay
    grace_period: PositiveInt | None = None  # null: twice heartbeat_interval


class TuningParameters(_Block):
    study: NamedStudyParameters
    n_trials: NonNegativeInt
    timeout_seconds: PositiveFloat | None
    search_space: search_space_of(TrainingParameters)
    contour_params: list[str]


class TuningGivenSplitParameters(_Block):
    autoencoder: str  # a key of benchmark.autoencoders
    training: overrides_of(TrainingParameters) | None
    tuning: overrides_of(TuningParameters)


class NoKeywords(_Block):
    """A baseline that takes no settings."""


class EaseParameters(_Block):
    l2: Grid[PositiveFloat]


class ItemKnnParameters(_Block):
    k: Grid[PositiveInt]
    shrink: Grid[NonNegativeFloat]


class MatrixFactorizationParameters(_Block):
    factors: Grid[PositiveInt]
    epochs: PositiveInt
    reg: Grid[NonNegativeFloat]
    alpha: Grid[NonNegativeFloat]
    seed: int


class BaselinesParameters(_Block):
    """Keyword arguments of the vaeops.recommenders.baselines classes; null or left out:
    their defaults. A list of values is a grid, chosen from on the validation users."""

    popularity: NoKeywords | None = None
    ease: EaseParameters | None = None
    itemknn: ItemKnnParameters | None = None
    mf: MatrixFactorizationParameters | None = None


class PublishedParameters(_Block):
    source: str
    models: dict[str, dict[str, float]]  # model: {metric: value}


class BenchmarkParameters(_Block):
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


class GivenSplitDatasetParameters(_Block):
    name: Literal[tuple(given_split_datasets())]
    path: str | None  # required for lightgcn, which has no download
    raw_dir: str


class CarvedValidationParameters(_Block):
    """vaeops.data.splits.carve_validation's arguments."""

    share: Fraction
    max_users: PositiveInt | None  # None: every user with two or more train items
    seed: int


class BenchmarkGivenSplitParameters(overrides_of(BenchmarkParameters)):
    """Entries merged key by key over ``benchmark``; the data set with the split, the
    validation carved from its train part, whether to refit, and published rows."""

    dataset: GivenSplitDatasetParameters
    validation: CarvedValidationParameters
    refit: bool
    published: dict[str, PublishedParameters] | None = None  # by dataset name


class RetrainingParameters(_Block):
    extra_files: list[str] | None
    metric: str  # ndcg_at_K or recall_at_K
    promotion_probability: Probability
    rope: NonNegativeFloat
    min_catalogue_overlap: Probability
    allow_fewer_users: bool
    force: bool
    lock_file: str


class ServingParameters(_Block):
    default_k: PositiveInt
    max_k: PositiveInt
    max_histories: PositiveInt
    max_history_length: PositiveInt


class RegistryParameters(_Block):
    model_name: str
    serving: ServingParameters


# --------------------------------------------------------------------------- augmentation


class AugmentationDatasetParameters(_Block):
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


class MlpParameters(_Block):
    hidden_dims: list[PositiveInt]
    epochs: PositiveInt
    learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat
    loss: Literal[LOSSES]
    focal_gamma: NonNegativeFloat


class LogisticRegressionParameters(_Block):
    C: PositiveFloat
    max_iter: PositiveInt


class ClassifiersParameters(_Block):
    mlp: MlpParameters = None
    logistic_regression: LogisticRegressionParameters = None


class RegimeParameters(_Block):
    """per_class rows of each class or a stratified fraction, then optionally a
    minority class cut to minority_ratio of the largest; mlp overrides classifiers.mlp."""

    per_class: Annotated[int, Field(ge=2)] = None
    fraction: Annotated[float, Field(gt=0, le=1)] = None
    minority_ratio: Fraction = None
    mlp: overrides_of(MlpParameters) = None


class ProtocolParameters(_Block):
    repeats: PositiveInt
    folds: Annotated[int, Field(ge=2)]
    tuning_fraction: Fraction
    seed: int


class NoSettings(_Block):
    """The arm every other is compared with: the real rows alone."""


class NoiseSettings(_Block):
    ratio: NonNegativeFloat
    scale: PositiveFloat


class SmoteSettings(_Block):
    ratio: NonNegativeFloat
    k_neighbors: PositiveInt


class CvaeSettings(_Block):
    ratio: NonNegativeFloat
    beta: NonNegativeFloat
    latent_dim: PositiveInt
    hidden_dim: PositiveInt
    epochs: PositiveInt
    learning_rate: PositiveFloat
    sampling: Literal[SAMPLING_MODES]
    tau: NonNegativeFloat
    min_confidence: Probability | None


def _arm(settings: type[_Block]) -> type[_Block]:
    """An arm's entry: its settings, and a search space over those settings."""
    return create_model(
        settings.__name__.replace("Settings", "Arm"),
        __base__=_Block,
        settings=(settings, ...),
        n_trials=(NonNegativeInt, ...),
        search_space=(search_space_of(settings), ...),
    )


class ArmsParameters(_Block):
    none: _arm(NoSettings) = None
    noise: _arm(NoiseSettings) = None
    smote: _arm(SmoteSettings) = None
    cvae: _arm(CvaeSettings) = None


class AugmentationTuningParameters(_Block):
    inner_splits: PositiveInt
    metric: Literal[METRICS]
    study: StudyParameters


class StatisticsParameters(_Block):
    metric: Literal[METRICS]
    rope: NonNegativeFloat
    decision_probability: Fraction


class FiguresParameters(_Block):
    samples_per_class: PositiveInt
    interpolation_steps: Annotated[int, Field(ge=2)]


class AugmentationParameters(_Block):
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


class Parameters(_Block):
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
