"""Raw interaction data for the recommenders: the datasets vaeops knows, and their loaders.

Each dataset names the files it comes in, the parser of each layout (``parsers``) and its
pinned, checksummed sources (``sources``: a local ``path`` wins, then the verified cache
``raw_dir/<name>/``, then the publisher's download or a mirror).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from vaeops.data import parsers
from vaeops.data.parsers import INTERACTION_COLUMNS, merge_duplicates, report_suspect_ratings
from vaeops.data.sources import (
    PYPI_MIRROR_OF_ML100K,
    LocatedFiles,
    Sources,
    download_files,
    extract_from_zip,
    files_beside,
    local_files,
    obtain,
)
from vaeops.errors import DataError

if TYPE_CHECKING:  # settings.py reads DATASETS from here
    from vaeops.data.settings import DatasetParameters

__all__ = [
    "DATASETS",
    "INTERACTION_COLUMNS",
    "load_given_split",
    "load_interactions",
    "load_item_metadata",
    "merge_duplicates",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileLayout:
    """The files that together hold one kind of data, and the parser that reads them."""

    files: tuple[str, ...]
    parse: Callable[[LocatedFiles], pd.DataFrame]


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is obtained, verified and parsed.

    ``interactions`` is None only for ``custom``, whose layout the user describes.
    ``metadata`` lists alternative layouts, preferred first. ``rating_scale`` is the lowest
    and highest rating the publisher gives; ratings outside it are reported.
    ``given_split`` marks data that ships as LightGCN's train and test parts, which
    ``load_given_split`` keeps apart. Without ``sources`` only a local ``path`` serves.
    """

    description: str
    interactions: FileLayout | None
    metadata: tuple[FileLayout, ...] = ()
    rating_scale: tuple[float, float] | None = None
    sources: Sources = field(default_factory=Sources)
    given_split: bool = False


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_LIGHTGCN_GOWALLA = (
    "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/master/data/gowalla/"
)


def _grouplens_zip(
    name: str,
    description: str,
    interactions: FileLayout,
    metadata: FileLayout,
    rating_scale: tuple[float, float],
    sha256: str,
) -> DatasetSpec:
    """A GroupLens release whose cache keeps the pinned zip itself, read in place."""
    archive = f"{name}.zip"
    return DatasetSpec(
        description=description,
        interactions=interactions,
        metadata=(metadata,),
        rating_scale=rating_scale,
        sources=Sources(
            checksums={archive: sha256},
            fetchers=(download_files({archive: _GROUPLENS + archive}),),
            archive=archive,
        ),
    )


# Checksums and where they come from:
# - zip sha256s: tensorflow/datasets, tensorflow_datasets/url_checksums/movielens.txt (with
#   sizes); the same zips carry the md5s GroupLens publishes beside them (ml-100k
#   0e33842e24a9c977be4e0107933c0723, ml-1m c4d9eecfca2ab87c1945afe126590906, ml-20m
#   cd245b17a1ae2cc31bb14903e1204af3, as pinned by public loaders).
# - u.data, u.item: pinned the same way by independent public loaders (e.g. ankane/disco);
#   u.data also in shared/data/README.md. u.genre: computed from a copy matching them.
# - ml-latest-small ratings.csv: shared/data/README.md; movies.csv: computed from the same
#   2018 release (also pinned by public loaders). The zip itself is not pinned: GroupLens
#   republishes it, and a new release would fail the file checks anyway.
# - ml-100k.item: computed from the recbole-1.2.1 wheel (PyPI files are immutable).
# - gowalla train.txt, test.txt: shared/data/README.md.
_LIGHTGCN_FOLDER = FileLayout(parsers.LIGHTGCN_SPLIT_FILES, parsers.parse_lightgcn_folder)
DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        description="MovieLens 100K (GroupLens): 100,000 ratings 1-5 by 943 users of 1,682 movies",
        interactions=FileLayout(("u.data",), parsers.parse_ml100k),
        metadata=(
            FileLayout(("u.item", "u.genre"), parsers.parse_ml100k_items),
            FileLayout(("ml-100k.item",), parsers.parse_recbole_items),
        ),
        rating_scale=(1, 5),
        sources=Sources(
            checksums={
                "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
                "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
                "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
                "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
            },
            fetchers=(
                extract_from_zip(
                    _GROUPLENS + "ml-100k.zip",
                    "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                    {f"ml-100k/{name}": name for name in ("u.data", "u.item", "u.genre")},
                ),
                PYPI_MIRROR_OF_ML100K,
            ),
        ),
    ),
    "ml-1m": _grouplens_zip(
        "ml-1m",
        "MovieLens 1M (GroupLens): 1,000,209 ratings 1-5 by 6,040 users",
        FileLayout(("ratings.dat",), parsers.parse_ml1m),
        FileLayout(("movies.dat",), parsers.parse_ml1m_movies),
        (1, 5),
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
    "ml-20m": _grouplens_zip(
        "ml-20m",
        "MovieLens 20M (GroupLens): 20,000,263 ratings 0.5-5 by 138,493 users",
        FileLayout(("ratings.csv",), parsers.parse_movielens_csv),
        FileLayout(("movies.csv",), parsers.parse_movies_csv),
        (0.5, 5),
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    ),
    "ml-latest-small": DatasetSpec(
        description="MovieLens latest-small (GroupLens, 2018): 100,836 ratings by 610 users",
        interactions=FileLayout(("ratings.csv",), parsers.parse_movielens_csv),
        metadata=(FileLayout(("movies.csv",), parsers.parse_movies_csv),),
        rating_scale=(0.5, 5),
        sources=Sources(
            checksums={
                "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
                "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
            },
            fetchers=(
                extract_from_zip(
                    _GROUPLENS + "ml-latest-small.zip",
                    None,
                    {f"ml-latest-small/{name}": name for name in ("ratings.csv", "movies.csv")},
                ),
            ),
        ),
    ),
    "gowalla": DatasetSpec(
        description="Gowalla check-ins as split by the LightGCN authors (0-based ids, no ratings)",
        interactions=_LIGHTGCN_FOLDER,
        given_split=True,
        sources=Sources(
            checksums={
                "train.txt": "7244696fdeb23911319cf7b689f2e15a3c4c92549c873a5677b44e3f13cc3e62",
                "test.txt": "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
            },
            fetchers=(
                download_files(
                    {name: _LIGHTGCN_GOWALLA + name for name in ("train.txt", "test.txt")}
                ),
            ),
        ),
    ),
    "lightgcn": DatasetSpec(
        description=(
            "any split in the LightGCN authors' format, such as their Yelp2018 or Amazon-book: "
            "a folder given by `path` holding train.txt and test.txt, one line "
            "'user item item ...' per user"
        ),
        interactions=_LIGHTGCN_FOLDER,
        given_split=True,
    ),
    "custom": DatasetSpec(
        description="your own CSV, TSV or Parquet file given by `path`, columns named by `columns`",
        interactions=None,
    ),
}


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; valid names are {', '.join(DATASETS)} "
            "(use 'custom' with `path` for your own file)."
        ) from None


def _locate_interactions(
    name: str, spec: DatasetSpec, raw_dir: str | Path, path: str | Path | None
) -> LocatedFiles:
    assert spec.interactions is not None
    files = spec.interactions.files
    if path is not None:
        return local_files(path, files)
    if not spec.sources.fetchers:
        raise DataError(
            f"dataset {name!r} has no download: set the dataset's `path` to the folder "
            f"holding {' and '.join(files)}."
        )
    return obtain(name, spec.description, spec.sources, Path(raw_dir) / name, [files])[1]


def load_configured(dataset: DatasetParameters) -> pd.DataFrame:
    """The interactions a ``dataset`` parameters block describes; its column names and
    separator apply only to ``custom`` files, since named datasets have fixed layouts."""
    custom = dataset.name == "custom"
    return load_interactions(
        dataset.name,
        raw_dir=dataset.raw_dir,
        path=dataset.path,
        columns=dataset.columns.model_dump() if custom else None,
        separator=dataset.separator if custom else None,
    )


def load_interactions(
    name: str,
    raw_dir: str | Path,
    path: str | Path | None = None,
    columns: dict[str, str] | None = None,
    separator: str | None = None,
) -> pd.DataFrame:
    """Interactions of dataset ``name`` as columns user, item[, rating][, timestamp].

    Ids stay as in the raw data so that results can be traced back to it; remapping them
    to indices is the job of a later stage. ``columns`` and ``separator`` describe a
    ``custom`` file; the separator defaults to the one its suffix names.
    """
    spec = _spec(name)
    if spec.interactions is None:
        frame = parsers.read_custom(path, columns, separator)
        origin = str(path)
    else:
        if columns is not None or separator is not None:
            raise DataError(
                f"`columns` and `separator` apply only to dataset 'custom'; {name!r} has a "
                "fixed layout. Remove them, or use 'custom' for a file of another layout."
            )
        files = _locate_interactions(name, spec, raw_dir, path)
        frame = spec.interactions.parse(files)
        origin = files.origin
    report_suspect_ratings(frame, origin, spec.rating_scale)
    frame = merge_duplicates(frame, name)
    logger.info(
        "%s: %d interactions, %d users, %d items from %s",
        name,
        len(frame),
        frame["user"].nunique(),
        frame["item"].nunique(),
        origin,
    )
    return frame


def load_item_metadata(
    name: str, raw_dir: str | Path, path: str | Path | None = None
) -> pd.DataFrame | None:
    """Item titles and "|"-joined genres, or None where the dataset has none.

    With ``path`` (the data file or its folder) the metadata must sit in that folder; if it
    does not, this warns and returns None rather than mix in files from another copy.
    """
    spec = _spec(name)
    if not spec.metadata:
        return None
    layouts = [layout.files for layout in spec.metadata]
    if path is None:
        found = obtain(name, spec.description, spec.sources, Path(raw_dir) / name, layouts)
    else:
        found = files_beside(path, layouts)
        if found is None:
            expected = " or ".join(" + ".join(files) for files in layouts)
            logger.warning(
                "%s: no item metadata in or beside %s (expected %s)", name, path, expected
            )
            return None
    index, files = found
    return spec.metadata[index].parse(files)


def given_split_datasets() -> list[str]:
    return [name for name, spec in DATASETS.items() if spec.given_split]


def load_given_split(
    name: str, raw_dir: str | Path, path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test interactions of a dataset that ships its own split, kept apart
    as its protocol needs."""
    spec = _spec(name)
    if not spec.given_split:
        raise DataError(
            f"dataset {name!r} ships no train/test split; the ones that do are "
            f"{', '.join(given_split_datasets())}. For any dataset, "
            "`kedro run --pipeline benchmark` benchmarks on the Liang split."
        )
    files = _locate_interactions(name, spec, raw_dir, path)
    train, test = (
        merge_duplicates(parsers.parse_lightgcn_split(files, part), f"{name} {part}")
        for part in parsers.LIGHTGCN_SPLIT_FILES
    )
    return train, test
