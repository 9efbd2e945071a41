"""The serving contract: what the clients of a served model rely on, and how a challenger
would break it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ServingContract:
    """What the clients of a served model rely on: the data it speaks for (a named
    dataset, or a custom file by its path), the type of its item ids and the fields of
    its requests and answers (its MLflow signature, as ``name: type`` lines)."""

    dataset: str
    dataset_path: str | None  # custom data only
    item_id_type: str  # "int" or "str"
    request_fields: tuple[str, ...]
    answer_fields: tuple[str, ...]

    def data(self) -> str:
        return f"{self.dataset} data at {self.dataset_path}" if self.dataset_path else self.dataset


def item_id_type(item_ids: Sequence) -> str:
    return "int" if pd.api.types.is_integer_dtype(np.asarray(item_ids)) else "str"


def catalogue_overlap(champion_items: Sequence, challenger_items: Sequence) -> float:
    """The share of the champion's items that the challenger knows."""
    champion_items = pd.Index(champion_items)
    return float(champion_items.isin(pd.Index(challenger_items)).mean())


def contract_breaches(
    champion: ServingContract,
    challenger: ServingContract,
    overlap: float,
    min_overlap: float,
) -> list[str]:
    """How serving ``challenger`` in place of ``champion`` would break its clients.

    Answers may gain fields (clients ignore what they do not read) but not lose or
    change one; requests must stay as they are.
    """
    breaches = []
    if challenger.data() != champion.data():
        breaches.append(
            f"the champion was trained on {champion.data()}, the challenger on {challenger.data()}"
        )
    if challenger.item_id_type != champion.item_id_type:
        breaches.append(
            f"the challenger's item ids are {challenger.item_id_type}, the champion's "
            f"{champion.item_id_type}"
        )
    if challenger.request_fields != champion.request_fields:
        breaches.append(
            f"requests would change from [{', '.join(champion.request_fields)}] to "
            f"[{', '.join(challenger.request_fields)}]"
        )
    if lost := [field for field in champion.answer_fields if field not in challenger.answer_fields]:
        breaches.append(f"answers would lose or change [{', '.join(lost)}]")
    if overlap < min_overlap:
        breaches.append(
            f"the challenger knows {overlap:.1%} of the champion's items, less than "
            f"retraining.min_catalogue_overlap={min_overlap}"
        )
    return breaches
