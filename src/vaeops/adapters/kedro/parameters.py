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
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from vaeops.augmentation.arms import ARM_SETTINGS, CLASSIFIERS, METRICS
from vaeops.augmentation.classifiers import LOSSES
from vaeops.augmentation.cvae import SAMPLING_MODES
from vaeops.augmentation.datasets import SCALINGS, SOURCES
from vaeops.data.ingest import DATASETS, given_split_datasets
from vaeops.errors import DataError
from vaeops.recommenders.benchmark.settings import (
    BASELINES,
    BaselinesParameters,
    PublishedParameters,
    given_split_settings,
)
from vaeops.recommenders.metrics import metric_names
from vaeops.recommenders.models import MODEL_CLASSES
from vaeops.recommenders.retraining.settings import (
    RegistryParameters,
    RetrainingParameters,
)
from vaeops.recommenders.training import PRECISION_CHOICES
from vaeops.schema import (
    Block,
    Fraction,
    Probability,
    block_in,
    overrides_of,
    search_space_of,
)


class ParameterError(click.ClickException, DataError):
    """Parameters that do not fit their schema. As a ClickException, `kedro run` prints
    just the message and exits with status 1, without a traceback."""


# --------------------------------------------------------------------------- recommenders


class ColumnsParameters(Block):
    user: str
    item: str
    rating: str | None
    timestamp: str | None


class DatasetParameters(Block):
    name: Literal[tuple(DATASETS)]
    path: str | None
    raw_dir: str
    columns: ColumnsParameters
    separator: Annotated[str, Field(min_length=1)] | None = None  # None: by the file's suffix


class PreprocessingParameters(Block):
    rating_threshold: float | None
    min_user_count: NonNegativeInt
    min_item_count: NonNegativeInt
    # A count of users, or a fraction of them: validation and test take one each.
    n_heldout_users: PositiveInt | Annotated[float, Field(gt=0, lt=0.5)]
    target_fraction: Fraction
    seed: int


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

    @field_validator("models", mode="before")
    @classmethod
    def _switches(cls, models: Any) -> Any:
        if not isinstance(models, Mapping) or not all(
            isinstance(on, bool) for on in models.values()
        ):
            raise ValueError(
                f"benchmark.models must map each model name to true or false, got {models!r}; "
                "switch one off with e.g. `--params benchmark.models.ease=false`."
            )
        return models

    @model_validator(mode="after")
    def _usable_selection(self) -> "BenchmarkParameters":
        """The selected models, the reference, the table and the published rows fit
        together, so that no model trains before a report that cannot be written."""
        known = set(BASELINES) | set(self.autoencoders)
        unknown = [name for name in self.models if name not in known]
        if unknown:
            raise ValueError(
                f"benchmark.models names {unknown}, which are neither baselines "
                f"{sorted(BASELINES)} nor autoencoders configured under benchmark.autoencoders "
                f"{sorted(self.autoencoders)}."
            )
        selected = [name for name, on in self.models.items() if on]
        if self.reference not in selected or len(selected) < 2:
            raise ValueError(
                f"benchmark.reference ({self.reference!r}) must be one of the selected "
                f"benchmark.models ({selected}), alongside at least one model to compare it with."
            )
        missing = set(self.table_metrics) - metric_names(self.evaluation.ks)
        if missing or self.headline_metric not in self.table_metrics:
            raise ValueError(
                f"benchmark.table_metrics {sorted(self.table_metrics)} needs cut-offs "
                f"missing from benchmark.evaluation.ks ({self.evaluation.ks}): "
                f"{sorted(missing)}; and benchmark.headline_metric "
                f"({self.headline_metric!r}) must be one of the table's metrics."
            )
        self._check_published()
        return self

    def _check_published(self) -> None:
        published = self.published.models if self.published else {}
        unknown_columns = {
            f"{model}.{metric}"
            for model, values in published.items()
            for metric in values
            if metric not in self.table_metrics
        }
        if unknown_columns:
            raise ValueError(
                f"Published values {sorted(unknown_columns)} have no column in "
                f"benchmark.table_metrics {sorted(self.table_metrics)}; name each value after "
                "the metric it was computed as (e.g. uncapped_recall_at_20 for a recall that "
                "divides by all test items)."
            )


class GivenSplitDatasetParameters(Block):
    name: Literal[tuple(given_split_datasets())]
    path: str | None  # required for lightgcn, which has no download
    raw_dir: str


class CarvedValidationParameters(Block):
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

    @model_validator(mode="after")
    def _given_split_benchmark(self) -> "Parameters":
        """The benchmark the given split runs, benchmark_given_split merged over benchmark,
        passes benchmark's own checks."""
        settings = given_split_settings(
            self.benchmark.model_dump(exclude_unset=True),
            self.benchmark_given_split.model_dump(exclude_unset=True),
        )
        try:
            BenchmarkParameters.model_validate(settings)
        except ValidationError as error:
            problems = "; ".join(problem["msg"] for problem in error.errors(include_url=False))
            raise ValueError(f"benchmark_given_split merged over benchmark: {problems}") from None
        return self


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
