"""What params:retraining and params:registry may hold, and the metrics a promotion can be
decided on."""

from __future__ import annotations

import re

from pydantic import NonNegativeFloat, PositiveInt, field_validator

from vaeops.errors import DataError
from vaeops.schema import Block, Probability

_METRIC = re.compile(r"(ndcg|recall)_at_([1-9][0-9]*)")


def metric_depth(metric: str) -> int:
    """The K of ``ndcg_at_K`` or ``recall_at_K``, the metrics a promotion can be decided on."""
    match = _METRIC.fullmatch(metric)
    if match is None:
        raise DataError(
            f"retraining.metric={metric!r} is not supported; use ndcg_at_K or recall_at_K "
            "with a positive K, e.g. ndcg_at_100 (the paper's headline metric)."
        )
    return int(match.group(2))


class RetrainingParameters(Block):
    extra_files: list[str] | None
    metric: str  # ndcg_at_K or recall_at_K
    promotion_probability: Probability
    rope: NonNegativeFloat
    min_catalogue_overlap: Probability
    allow_fewer_users: bool
    force: bool
    lock_file: str

    @field_validator("metric")
    @classmethod
    def _decidable(cls, metric: str) -> str:
        metric_depth(metric)
        return metric


class ServingParameters(Block):
    default_k: PositiveInt
    max_k: PositiveInt
    max_histories: PositiveInt
    max_history_length: PositiveInt


class RegistryParameters(Block):
    model_name: str
    serving: ServingParameters
