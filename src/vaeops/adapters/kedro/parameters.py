"""The whole configuration checked before a run.

Kedro hands nodes plain dictionaries unless a node's signature names a settings model
(``training: TrainingParameters``): then Kedro validates the block into that model
before the run, and the node receives the checked object itself. A misspelt key
(``training.learnin_rate``) or a value of the wrong type would still surface only when
a node read it, after kedro-mlflow had opened its run, as a long traceback; so
``check_parameters`` checks the whole configuration first, ``--params`` overrides
included, and names every bad key by its dotted path. The models are strict: a value
must already have the type the code uses (``"5"`` is no int).

A field whose default is None may be left out (the code does without it) but, unless
its type allows None, not set to null.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
from omegaconf.errors import OmegaConfBaseException
from pydantic import (
    BaseModel,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from vaeops.augmentation.settings import AugmentationParameters
from vaeops.data.settings import (
    CarvedValidationParameters,
    DatasetParameters,
    GivenSplitDatasetParameters,
    PreprocessingParameters,
)
from vaeops.errors import DataError
from vaeops.recommenders.models import MODEL_CLASSES, MultVAE
from vaeops.recommenders.settings import (
    CheckpointParameters,
    EvaluationParameters,
    ReportingParameters,
    TrainingParameters,
)
from vaeops.schema import (
    Block,
    Grid,
    NamedStudyParameters,
    Probability,
    overrides_of,
    search_space_of,
)


class ParameterError(click.ClickException, DataError):
    """Parameters that do not fit their schema. As a ClickException, `kedro run` prints
    just the message and exits with status 1, without a traceback."""


# --------------------------------------------------------------------------- recommenders


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


# Settings of β's annealing, which only a Mult-VAE has.
ANNEALING_SETTINGS = ("anneal_cap", "anneal_share", "total_anneal_steps")


def check_searched_settings_apply(training: TrainingParameters, names: Iterable[str]) -> None:
    """Fail before any trial when the search varies a setting the trained model ignores,
    which would spend the study's trials on noise: β's annealing outside a Mult-VAE
    (RecVAE weighs its KL term by ``model.gamma``), or ``anneal_share`` while
    ``total_anneal_steps`` sets the schedule."""
    kind = training.model.kind
    names = set(names)
    if not issubclass(MODEL_CLASSES[kind], MultVAE):
        ignored = sorted(names & set(ANNEALING_SETTINGS))
        fix = f"a {kind} has no annealed KL weight (docs/tuning.md has a RecVAE search space)"
    else:
        absolute = training.total_anneal_steps is not None or "total_anneal_steps" in names
        ignored = ["anneal_share"] if absolute and "anneal_share" in names else []
        fix = (
            "total_anneal_steps sets the schedule instead; leave anneal_share out, or set "
            "training.total_anneal_steps to null and leave it out"
        )
    if ignored:
        raise ValueError(
            f"tuning.search_space varies {ignored}, settings that change nothing here: {fix}."
        )


class TuningGivenSplitParameters(Block):
    """The tuning pipeline's blocks under its namespace, derived in YAML from one of the
    given-split benchmark's autoencoders and params:tuning."""

    autoencoder: str  # a key of benchmark_given_split.autoencoders
    training_overrides: overrides_of(TrainingParameters) | None
    study_changes: overrides_of(NamedStudyParameters) | None
    training: TrainingParameters
    evaluation: EvaluationParameters
    tuning: TuningParameters

    @model_validator(mode="after")
    def _searched_settings_apply(self) -> "TuningGivenSplitParameters":
        check_searched_settings_apply(self.training, self.tuning.search_space.flattened())
        return self


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
    validation_k: PositiveInt  # the cut-off of the validation NDCG behind every choice
    table_metrics: dict[str, str]  # metric: column heading
    rope: NonNegativeFloat
    bootstrap_samples: PositiveInt
    bootstrap_seed: int
    evaluation: EvaluationParameters
    baselines: BaselinesParameters
    autoencoder_overrides: dict[str, overrides_of(TrainingParameters) | None]
    autoencoders: dict[str, TrainingParameters]  # derived in YAML from the two above
    published: PublishedParameters | None = None


class BenchmarkGivenSplitParameters(Block):
    """The data set with the split, the validation carved from its train part, whether
    to refit, published rows by dataset name, and the changes to ``benchmark``; the
    autoencoders' blocks and ``benchmark`` itself are derived from them in YAML."""

    dataset: GivenSplitDatasetParameters
    validation: CarvedValidationParameters
    refit: bool
    published: dict[str, PublishedParameters] | None = None  # by dataset name
    changes: overrides_of(BenchmarkParameters)
    autoencoders: dict[str, TrainingParameters]
    benchmark: BenchmarkParameters


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
    def _searched_settings_apply(self) -> "Parameters":
        check_searched_settings_apply(self.training, self.tuning.search_space.flattened())
        return self


def load_parameters(config_loader: Mapping[str, Any]) -> dict[str, Any]:
    """The merged parameters; a derived block that names a missing key (say
    ``tuning_given_split.autoencoder: multvea``) fails as a ParameterError naming both."""
    try:
        return config_loader["parameters"]
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        where = getattr(error, "full_key", None)
        raise ParameterError(
            f"Invalid parameters (conf/<env>/parameters*.yml or --params); nothing ran:\n"
            f"  {where or 'a derived block'}: {reason}"
        ) from None


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
    reasons = "; ".join(problem["msg"].removeprefix("Value error, ") for problem in problems)
    # A check across blocks (e.g. tuning against training) has no one key; its message names them.
    return f"{path}: {reasons}" if path else reasons


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


def plain_settings(value: Any) -> Any:
    """``value`` with every settings model in it back as the dictionary it was read from.

    Kedro validates a node's parameters into the model its signature names before the
    run starts, so the run's parameters hold models; what reads them by key (the run's
    title, kedro-mlflow's logged params) sees the keys the YAML gave, as before."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: plain_settings(item) for key, item in value.items()}
    return value
