"""What the benchmark's settings may hold: the baselines' keyword arguments (a list of
values is a grid, chosen from on the validation users), published rows, and which
models run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from vaeops.recommenders.baselines import EASE, ItemKNN, MatrixFactorization, Popularity
from vaeops.recommenders.metrics import metric_names
from vaeops.recommenders.settings import EvaluationParameters, TrainingParameters
from vaeops.schema import Block, Grid, overrides_of

BASELINES = {
    "popularity": Popularity,
    "ease": EASE,
    "itemknn": ItemKNN,
    "mf": MatrixFactorization,
}
# The closed-form EASE matches Mult-VAE on MovieLens (Steck 2019): an autoencoder
# is worth choosing only where it beats EASE, so each one is compared with it.
BASELINE_TO_BEAT = "ease"


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

    def selected_models(self) -> list[str]:
        """The names of the models switched on in ``models``, in table order."""
        return [name for name, on in self.models.items() if on]

    def model_settings(self, name: str) -> dict[str, Any] | TrainingParameters:
        """A baseline's keyword arguments (a list is a grid), or an autoencoder's block."""
        if name in BASELINES:
            return getattr(self.baselines, name).model_dump()
        return self.autoencoders[name]

    @model_validator(mode="after")
    def _usable_selection(self) -> BenchmarkParameters:
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
        selected = self.selected_models()
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
