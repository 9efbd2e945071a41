"""The data's settings blocks: which interaction log, how it is split, and the validation
carved from a split that ships with the data.

Each block says what a key of conf/base/parameters_{ingestion,preprocessing,
benchmark_given_split}.yml may hold; the defaults live in that YAML alone. The data
functions take these models themselves.
"""

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from vaeops.data.ingest import DATASETS, given_split_datasets
from vaeops.schema import Block, Fraction


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

    @property
    def custom_file(self) -> str | None:
        """A custom dataset is its file; a named one is its name, wherever its copy lies."""
        return self.path if self.name == "custom" else None


class PreprocessingParameters(Block):
    rating_threshold: float | None
    min_user_count: NonNegativeInt
    min_item_count: NonNegativeInt
    # A count of users, or a fraction of them: validation and test take one each.
    n_heldout_users: PositiveInt | Annotated[float, Field(gt=0, lt=0.5)]
    target_fraction: Fraction
    seed: int


class GivenSplitDatasetParameters(Block):
    name: Literal[tuple(given_split_datasets())]
    path: str | None  # required for lightgcn, which has no download
    raw_dir: str


class CarvedValidationParameters(Block):
    """vaeops.data.splits.carve_validation's arguments."""

    share: Fraction
    max_users: PositiveInt | None  # None: every user with two or more train items
    seed: int
