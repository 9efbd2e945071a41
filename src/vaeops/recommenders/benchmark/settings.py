"""What the benchmark's settings may hold: the baselines' keyword arguments (a list of
values is a grid, chosen from on the validation users), published rows, and which
models run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from vaeops.recommenders.baselines import EASE, ItemKNN, MatrixFactorization, Popularity
from vaeops.schema import Block, Grid

BASELINES = {
    "popularity": Popularity,
    "ease": EASE,
    "itemknn": ItemKNN,
    "mf": MatrixFactorization,
}
# The closed-form EASE matches Mult-VAE on MovieLens (Steck 2019): an autoencoder
# is worth choosing only where it beats EASE, so each one is compared with it.
BASELINE_TO_BEAT = "ease"
# Entries of params:benchmark_given_split that describe the data and its protocol
# rather than override params:benchmark.
GIVEN_SPLIT_OWN_KEYS = ("dataset", "validation", "refit", "published")


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
    """Keyword arguments of the vaeops.recommenders.baselines classes, every one given:
    the classes keep no defaults. A list of values is a grid, chosen from on the
    validation users."""

    popularity: NoKeywords
    ease: EaseParameters
    itemknn: ItemKnnParameters
    mf: MatrixFactorizationParameters


class PublishedParameters(Block):
    source: str
    models: dict[str, dict[str, float]]  # model: {metric: value}


def selected_models(benchmark: Mapping[str, Any]) -> list[str]:
    """The names of the models switched on in ``benchmark.models``, in table order."""
    return [name for name, on in benchmark["models"].items() if on]
