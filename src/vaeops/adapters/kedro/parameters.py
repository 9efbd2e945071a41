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
    field_validator,
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
from vaeops.recommenders.benchmark.settings import (
    BASELINES,
    BaselinesParameters,
    PublishedParameters,
)
from vaeops.recommenders.metrics import metric_names
from vaeops.recommenders.models import MODEL_CLASSES, MultVAE
from vaeops.recommenders.retraining.settings import RegistryParameters, RetrainingParameters
from vaeops.recommenders.settings import (
    CheckpointParameters,
    EvaluationParameters,
    ReportingParameters,
    TrainingParameters,
)
from vaeops.schema import (
    Block,
    NamedStudyParameters,
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
    ``total_anneal_steps`` sets the schedule. A study's job calls it: it spans the
    training and tuning blocks, and a run that tunes nothing may set either freely."""
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
        raise ParameterError(
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
        problems = "\n".join(f"  {line}" for line in _at_their_source(_describe(error, params)))
        raise ParameterError(
            "Invalid parameters (conf/<env>/parameters*.yml or --params); nothing ran:\n" + problems
        ) from None


# Blocks the YAML derives from others (conf/base/parameters_benchmark*.yml and
# parameters_tuning_given_split.yml): a mistake in a source block shows in each copy.
DERIVED_BLOCKS = (
    "benchmark.autoencoders",
    "benchmark_given_split.autoencoders",
    "benchmark_given_split.benchmark",
    "tuning_given_split.training",
    "tuning_given_split.evaluation",
    "tuning_given_split.tuning.study",
)


def _at_their_source(lines: list[str]) -> list[str]:
    """The problems of the blocks a user writes, without their echoes in derived blocks;
    all of them when only derived blocks have problems."""
    derived = tuple(f"{block}{end}" for block in DERIVED_BLOCKS for end in ".:")
    own = [line for line in lines if not line.startswith(derived)]
    return own or lines


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
