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
from pydantic import ValidationError, ValidationInfo, model_validator

from vaeops.augmentation.settings import AugmentationParameters
from vaeops.data.settings import (
    CarvedValidationParameters,
    DatasetParameters,
    GivenSplitDatasetParameters,
    PreprocessingParameters,
)
from vaeops.errors import DataError
from vaeops.recommenders.benchmark.settings import BenchmarkParameters, PublishedParameters
from vaeops.recommenders.configurations import check_searched_settings_apply
from vaeops.recommenders.retraining.settings import RegistryParameters, RetrainingParameters
from vaeops.recommenders.settings import (
    CheckpointParameters,
    EvaluationParameters,
    ReportingParameters,
    TrainingParameters,
    TuningParameters,
)
from vaeops.schema import Block, NamedStudyParameters, overrides_of


class ParameterError(click.ClickException, DataError):
    """Parameters that do not fit their schema. As a ClickException, `kedro run` prints
    just the message and exits with status 1, without a traceback."""


class TuningGivenSplitParameters(Block):
    """The tuning pipeline's blocks under its namespace, derived in YAML from one of the
    given-split benchmark's autoencoders and params:tuning."""

    autoencoder: str  # a key of benchmark_given_split.autoencoders
    training_overrides: overrides_of(TrainingParameters) | None
    study_changes: overrides_of(NamedStudyParameters) | None
    training: TrainingParameters
    evaluation: EvaluationParameters
    tuning: TuningParameters


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

    @model_validator(mode="after")
    def _searches_change_what_trains(self, info: ValidationInfo) -> "Parameters":
        """Each study the run reads (``read`` in the context: the blocks its pipelines
        take) searches only settings its training block uses. Only those: a run that
        tunes nothing may set the training block as it likes."""
        studies = {
            "tuning": (self.training, self.tuning),
            "tuning_given_split.tuning": (
                self.tuning_given_split.training,
                self.tuning_given_split.tuning,
            ),
        }
        for block, (training, tuning) in studies.items():
            if block in (info.context or {}).get("read", ()):
                searched = tuning.search_space.flattened()
                check_searched_settings_apply(training, searched, f"{block}.search_space")
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


def check_parameters(params: Mapping[str, Any], read: Iterable[str] = ()) -> None:
    """Raise ParameterError naming every key of ``params`` that does not fit its schema,
    and every problem across the blocks the run ``read``s (dotted names)."""
    try:
        Parameters.model_validate(params, context={"read": set(read)})
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
