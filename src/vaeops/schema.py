"""The building blocks of every settings model: strict blocks that name unknown keys,
override blocks, grids, search spaces and Optuna studies.

The YAML under conf/base is where every default lives; a block only says what a key
may hold. Pydantic is the one dependency, so the core's settings models (one module
per domain) and the Kedro check of the whole configuration share these blocks.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

Fraction = Annotated[float, Field(gt=0, lt=1)]
_Value = TypeVar("_Value")
# One value, or a list of values to choose from on validation users (a grid).
Grid = _Value | Annotated[list[_Value], Field(min_length=1)]
Probability = Annotated[float, Field(ge=0, le=1)]


# --------------------------------------------------------------------------- building blocks


class Block(BaseModel):
    """A settings block: strict types, and unknown keys named with the valid ones."""

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


def block_in(annotation: Any) -> type[Block] | None:
    """The block type of a field typed ``Block`` or ``Block | None``, else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Block):
            return candidate
    return None


def overrides_of(block: type[Block]) -> type[Block]:
    """``block`` with every key optional, nested blocks too: entries merged key by key
    over a full block, e.g. ``benchmark.autoencoders.multdae`` over ``training``."""
    fields: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        nested = block_in(info.annotation)
        if nested is None:
            annotation = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
        elif info.annotation is nested:
            annotation = overrides_of(nested)
        else:
            annotation = overrides_of(nested) | None
        fields[name] = (annotation, None)
    return create_model(f"{block.__name__}Overrides", __base__=Block, **fields)


class Distribution(Block):
    """One tuned setting: ``{type: float|int, low, high, log?, step?}`` or
    ``{type: categorical, choices: [...]}``, as Optuna's suggest_* take them."""

    type: Literal["float", "int", "categorical"]
    # int | float: an int distribution's bounds and step stay ints, as suggest_int takes them.
    low: int | float | None = None
    high: int | float | None = None
    log: bool | None = None  # absent or null: a linear range
    step: PositiveInt | PositiveFloat | None = None
    choices: Annotated[list[Any], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _has_what_its_type_needs(self) -> "Distribution":
        needed = ("choices",) if self.type == "categorical" else ("low", "high")
        missing = [key for key in needed if getattr(self, key) is None]
        if missing:
            raise ValueError(f"a {self.type} distribution needs {' and '.join(missing)}")
        return self


class SearchSpace(Block):
    """A search space's distributions, nested as the tuned block is. It keeps the order
    its keys were written in: the sampler draws the values in that order, so the order
    is part of a study's random stream."""

    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written_order(cls, values: Any, handler: Any) -> "SearchSpace":
        space = handler(values)
        if isinstance(values, Mapping):
            space._order = list(values)
        return space

    def flattened(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """``{"model.latent_dim": {type: int, ...}}``: one entry per distribution, named by
        its dotted key and holding the keys written for it, in the written order."""
        flat: dict[str, dict[str, Any]] = {}
        for name in self._order:
            value = getattr(self, name)
            if isinstance(value, Distribution):
                flat[f"{prefix}{name}"] = value.model_dump(exclude_unset=True)
            else:
                flat.update(value.flattened(f"{prefix}{name}."))
        return flat


def search_space_of(block: type[Block]) -> type[SearchSpace]:
    """A search space over ``block``: a distribution for any of its keys, nested as the
    block is (``model: {latent_dim: {type: int, ...}}``), so a misspelt name fails early."""
    fields: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        nested = block_in(info.annotation)
        fields[name] = (Distribution if nested is None else search_space_of(nested), None)
    return create_model(f"{block.__name__}SearchSpace", __base__=SearchSpace, **fields)


# --------------------------------------------------------------------------- studies


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
