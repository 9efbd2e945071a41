"""Raw interaction data for the recommenders, from whichever source works.

A dataset comes from the first source that delivers it:

1. ``path``, a file or folder the user points at. It is trusted as it is (users may bring
   their own or newer copies) and only parsed and validated, never checksum-checked.
2. The cache ``raw_dir/<name>/``, but only if every file there matches its pinned sha256;
   a file that does not is removed and reported, so a truncated download never poisons
   later runs.
3. The publisher's download, written to a temporary folder and moved into the cache only
   after its checksum verifies.
4. For MovieLens 100K only, the identical copy inside the RecBole wheel on PyPI, for
   machines that reach a package index but not GroupLens.

Whatever the source, the parsed rows are checked (ids, numeric ratings, at least one row)
and repeated (user, item) pairs are merged loudly, never dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from vaeops.errors import DataError

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30
PIP_TIMEOUT_S = 300

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")
_ID_COLUMNS = ("user", "item")


class _SourceFailed(Exception):
    """One source could not deliver verified files; the message says why."""


# Failures of one source that should move on to the next source rather than crash.
_FETCH_ERRORS = (
    OSError,
    HTTPException,
    zipfile.BadZipFile,
    subprocess.SubprocessError,
    _SourceFailed,
)


@dataclass(frozen=True)
class LocatedFiles:
    """Where the files a parser reads are: plain files, or members of a verified cached zip.

    GroupLens publishes checksums only for its zips, so for ML-1M and ML-20M the cache keeps
    the zip itself (verifiable on every run) and the files are read straight out of it.
    """

    origin: str
    plain: Mapping[str, Path] = field(default_factory=dict)
    archive: Path | None = None

    def _member(self, name: str) -> str:
        assert self.archive is not None
        return f"{self.archive.stem}/{name}"

    def label(self, name: str) -> str:
        if self.archive is not None:
            return f"{self.archive}:{self._member(name)}"
        return str(self.plain[name])

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.archive is None:
            with self.plain[name].open("rb") as stream:
                yield stream
        else:
            with (
                zipfile.ZipFile(self.archive) as archive,
                archive.open(self._member(name)) as stream,
            ):
                yield stream


@dataclass(frozen=True)
class FileLayout:
    """The files that together hold one kind of data, and the parser that reads them."""

    files: tuple[str, ...]
    parse: Callable[[LocatedFiles], pd.DataFrame]


@dataclass(frozen=True)
class Fetcher:
    """One outside source: ``fetch`` writes the files in ``provides`` into a staging folder."""

    description: str
    provides: frozenset[str]
    fetch: Callable[[Path], None]


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is obtained, verified and parsed.

    ``checksums`` pins the sha256 of every file the cache may hold; nothing else enters it.
    ``interactions`` is None only for ``custom``, whose layout the user describes.
    ``metadata`` lists alternative layouts, preferred first.
    """

    description: str
    interactions: FileLayout | None
    metadata: tuple[FileLayout, ...] = ()
    checksums: Mapping[str, str] = field(default_factory=dict)
    archive: str | None = None
    fetchers: tuple[Fetcher, ...] = ()

    def cache_files(self, files: Sequence[str]) -> tuple[str, ...]:
        return (self.archive,) if self.archive else tuple(files)


# --------------------------------------------------------------------------- parsing


def _parse_csv(stream: IO[bytes], label: str, **options: object) -> pd.DataFrame:
    try:
        return pd.read_csv(stream, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty; it should hold one interaction per line.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{label} could not be parsed: {error}") from error


def _require_columns(frame: pd.DataFrame, wanted: Sequence[str], label: str, fix: str) -> None:
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise DataError(
            f"{label} lacks column(s) {missing}; its columns are {list(frame.columns)}. {fix}"
        )


def _describe_rows(values: pd.Series, rows: np.ndarray) -> str:
    shown = ", ".join(
        f"row {row + 1}: {'(missing)' if pd.isna(values.iloc[row]) else repr(values.iloc[row])}"
        for row in rows[:5]
    )
    return shown + (", ..." if len(rows) > 5 else "")


def _numbers(values: pd.Series, column: str, label: str, integer: bool) -> pd.Series:
    """Convert a column to numbers, refusing with examples instead of guessing."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | ~np.isfinite(numeric.astype("float64"))
    if integer:
        bad |= numeric.notna() & (numeric % 1 != 0)
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        kind = "an integer" if integer else "a number"
        raise DataError(
            f"{label}: {column} must be {kind} in every row, but {len(rows)} row(s) are not "
            f"({_describe_rows(values, rows)}; rows counted from 1 after any header). "
            "Fix or remove those rows."
        )
    return numeric.astype("int64" if integer else "float64")


def _standardise(frame: pd.DataFrame, label: str, integer_ids: bool) -> pd.DataFrame:
    """Give every source the same columns and dtypes, so that later stages need no cases."""
    if frame.empty:
        raise DataError(f"{label} has no interaction rows.")
    result: dict[str, pd.Series] = {}
    for column in _ID_COLUMNS:
        if integer_ids:
            result[column] = _numbers(frame[column], column, label, integer=True)
            continue
        missing = frame[column].isna().to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)
            raise DataError(
                f"{label}: {column} is missing in {len(rows)} row(s) "
                f"({_describe_rows(frame[column], rows)}); every interaction needs a user and "
                "an item."
            )
        result[column] = frame[column]
    if "rating" in frame:
        result["rating"] = _numbers(frame["rating"], "rating", label, integer=False)
    if "timestamp" in frame:
        result["timestamp"] = _numbers(frame["timestamp"], "timestamp", label, integer=True)
    return pd.DataFrame(result).reset_index(drop=True)


def _parse_headerless_ratings(stream: IO[bytes], label: str, separator: str) -> pd.DataFrame:
    frame = _parse_csv(stream, label, sep=separator, header=None)
    if frame.shape[1] != len(INTERACTION_COLUMNS):
        raise DataError(
            f"{label} should have 4 columns (user, item, rating, timestamp) separated by "
            f"{separator!r}, but has {frame.shape[1]}. Check that `path` points at the "
            "ratings file of this dataset."
        )
    frame.columns = list(INTERACTION_COLUMNS)
    return _standardise(frame, label, integer_ids=True)


def _parse_ml100k(files: LocatedFiles) -> pd.DataFrame:
    with files.open("u.data") as stream:
        return _parse_headerless_ratings(stream, files.label("u.data"), "\t")


def _parse_ml1m(files: LocatedFiles) -> pd.DataFrame:
    # "::" would force pandas' slow Python engine; a tab is equivalent here and is parsed in C.
    with files.open("ratings.dat") as stream:
        text = io.BytesIO(stream.read().replace(b"::", b"\t"))
    return _parse_headerless_ratings(text, files.label("ratings.dat"), "\t")


def _parse_movielens_csv(files: LocatedFiles) -> pd.DataFrame:
    label = files.label("ratings.csv")
    with files.open("ratings.csv") as stream:
        frame = _parse_csv(stream, label)
    source_columns = {
        "userId": "user",
        "movieId": "item",
        "rating": "rating",
        "timestamp": "timestamp",
    }
    _require_columns(
        frame,
        list(source_columns),
        label,
        "A MovieLens ratings.csv starts with the header 'userId,movieId,rating,timestamp': "
        "check `path`, or load other layouts as dataset 'custom' with `columns`.",
    )
    return _standardise(frame.rename(columns=source_columns), label, integer_ids=True)


def _parse_lightgcn_split(files: LocatedFiles, name: str) -> pd.DataFrame:
    """Read LightGCN's ``user item item ...`` lines; a user with no items adds no rows."""
    label = files.label(name)
    users: list[int] = []
    items: list[int] = []
    users_without_items = 0
    with files.open(name) as stream:
        for line_number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                ids = [int(value) for value in fields]
            except ValueError:
                raise DataError(
                    f"{label} line {line_number}: expected integer ids 'user item item ...', "
                    f"got {line.strip()[:80]!r}."
                ) from None
            if len(ids) == 1:
                users_without_items += 1
            users.extend([ids[0]] * (len(ids) - 1))
            items.extend(ids[1:])
    if users_without_items:
        logger.info("%s: %d user(s) have no items in this split", label, users_without_items)
    if not items:
        raise DataError(f"{label} has no interactions; it should hold lines 'user item item ...'.")
    return pd.DataFrame(
        {"user": np.asarray(users, dtype=np.int64), "item": np.asarray(items, dtype=np.int64)}
    )


def _parse_gowalla(files: LocatedFiles) -> pd.DataFrame:
    splits = [_parse_lightgcn_split(files, name) for name in ("train.txt", "test.txt")]
    return pd.concat(splits, ignore_index=True)


def _metadata_frame(
    items: pd.Series, titles: pd.Series, genres: pd.Series, label: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": _numbers(items, "item", label, integer=True).to_numpy(),
            "title": titles.astype(str).str.strip().to_numpy(),
            "genres": genres.to_numpy(),
        }
    )


def _parse_ml100k_items(files: LocatedFiles) -> pd.DataFrame:
    with files.open("u.genre") as stream:
        genre_table = _parse_csv(stream, files.label("u.genre"), sep="|", header=None)
    genre_names = genre_table.sort_values(1)[0].tolist()
    with files.open("u.item") as stream:
        table = _parse_csv(
            stream,
            files.label("u.item"),
            sep="|",
            header=None,
            encoding="latin-1",
            quoting=csv.QUOTE_NONE,
        )
    flags = table.iloc[:, -len(genre_names) :].to_numpy() == 1
    genres = ["|".join(np.asarray(genre_names)[row]) for row in flags]
    return _metadata_frame(table[0], table[1], pd.Series(genres), files.label("u.item"))


def _parse_recbole_items(files: LocatedFiles) -> pd.DataFrame:
    """RecBole's ml-100k.item splits the year off the title and space-joins the genres.

    Rejoining gives GroupLens' titles except for item 267, whose placeholder RecBole spells
    'unkonwn (unkonwn)' where u.item has 'unknown'.
    """
    with files.open("ml-100k.item") as stream:
        table = _parse_csv(
            stream, files.label("ml-100k.item"), sep="\t", dtype=str, quoting=csv.QUOTE_NONE
        )
    title, year, genres = table.iloc[:, 1], table.iloc[:, 2], table.iloc[:, 3].fillna("")
    titles = title.where(year.isna(), title + " (" + year + ")")
    genres = genres.str.split().str.join("|")
    return _metadata_frame(table.iloc[:, 0], titles, genres, files.label("ml-100k.item"))


def _parse_ml1m_movies(files: LocatedFiles) -> pd.DataFrame:
    with files.open("movies.dat") as stream:
        text = io.BytesIO(stream.read().replace(b"::", b"\t"))
    table = _parse_csv(
        text,
        files.label("movies.dat"),
        sep="\t",
        header=None,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    return _metadata_frame(table[0], table[1], table[2], files.label("movies.dat"))


def _parse_movies_csv(files: LocatedFiles) -> pd.DataFrame:
    label = files.label("movies.csv")
    with files.open("movies.csv") as stream:
        table = _parse_csv(stream, label)
    _require_columns(table, ["movieId", "title", "genres"], label, "Check `path`.")
    # GroupLens writes this placeholder where a movie has no genre; it is not a genre.
    genres = table["genres"].replace("(no genres listed)", "")
    return _metadata_frame(table["movieId"], table["title"], genres, label)


_CUSTOM_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
}


def _read_custom(path: str | Path | None, columns: Mapping[str, str] | None) -> pd.DataFrame:
    if path is None:
        raise DataError(
            "dataset 'custom' needs `path`: a CSV or Parquet file with one row per interaction "
            "and at least a user and an item column (name them with `columns`)."
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(f"custom dataset file {path} does not exist or is not a file.")
    reader = _CUSTOM_READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(
            f"cannot read {path}: custom datasets are read by suffix, one of "
            f"{sorted(_CUSTOM_READERS)}."
        )
    unknown = sorted(set(columns or {}) - set(INTERACTION_COLUMNS))
    if unknown:
        raise DataError(
            f"`columns` has unknown key(s) {unknown}; valid keys are {list(INTERACTION_COLUMNS)} "
            "(user and item required, rating and timestamp optional)."
        )
    # An optional role mapped to None means "this file has no such column".
    absent = {role for role, name in (columns or {}).items() if name is None}
    if absent & set(_ID_COLUMNS):
        raise DataError("`columns` must name the user and item columns; they cannot be null.")
    mapping = {
        role: name
        for role, name in (
            {role: role for role in INTERACTION_COLUMNS} | dict(columns or {})
        ).items()
        if role not in absent
    }
    try:
        frame = reader(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it should hold one interaction per row.") from None
    except (ValueError, OSError) as error:  # parser, decoding and Arrow errors alike
        raise DataError(f"{path} could not be read: {error}") from error
    required = [
        *_ID_COLUMNS,
        *(role for role in mapping if role in (columns or {}) and role not in _ID_COLUMNS),
    ]
    missing = {role: mapping[role] for role in required if mapping[role] not in frame.columns}
    if missing:
        wanted = ", ".join(f"{role!r} -> {name!r}" for role, name in missing.items())
        raise DataError(
            f"{path} lacks the column(s) for {wanted}; its columns are {list(frame.columns)}. "
            "Set `columns` to the file's names, e.g. columns={'user': '<column>', "
            "'item': '<column>', 'rating': '<column>'} (rating and timestamp optional)."
        )
    present = {role: name for role, name in mapping.items() if name in frame.columns}
    logger.info("custom: reading %s with columns %s", path, present)
    renamed = frame[list(present.values())].set_axis(list(present), axis=1)
    return _standardise(renamed, str(path), integer_ids=False)


# --------------------------------------------------------------------------- fetching


def _download(url: str, destination: Path) -> None:
    """Fetch ``url`` into ``destination``; callers verify it before anything trusts it."""
    logger.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        with destination.open("wb") as file:
            shutil.copyfileobj(response, file, length=1 << 20)


def _pip_download(requirement: str, folder: Path) -> Path:
    """Download one wheel without installing it; pip already knows the user's index and proxy."""
    logger.info("downloading %s from the package index with pip", requirement)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    if result.returncode != 0:
        last_lines = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise _SourceFailed(
            f"pip download {requirement} failed ({result.returncode}): {last_lines}"
        )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise _SourceFailed(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_member(archive: zipfile.ZipFile, member: str, origin: str) -> bytes:
    try:
        return archive.read(member)
    except KeyError:
        raise _SourceFailed(f"{member} is not in {origin}") from None


def _download_files(urls: Mapping[str, str]) -> Fetcher:
    """Files kept exactly as served, e.g. a GroupLens zip or LightGCN's text files."""

    def fetch(staging: Path) -> None:
        for name, url in urls.items():
            _download(url, staging / name)

    return Fetcher(f"download {', '.join(urls.values())}", frozenset(urls), fetch)


def _extract_from_zip(url: str, sha256: str | None, members: Mapping[str, str]) -> Fetcher:
    """A zip downloaded only to take ``members`` (archive path -> cache name) out of it.

    ``sha256`` is None where the publisher replaces the zip between releases; the extracted
    files are still verified against the dataset's checksums.
    """

    def fetch(staging: Path) -> None:
        with tempfile.TemporaryDirectory() as folder:
            archive_path = Path(folder) / "download.zip"
            _download(url, archive_path)
            actual = _sha256(archive_path)
            if sha256 is not None and actual != sha256:
                raise _SourceFailed(f"{url} has sha256 {actual}, expected {sha256}")
            with zipfile.ZipFile(archive_path) as archive:
                for member, name in members.items():
                    (staging / name).write_bytes(_read_member(archive, member, url))

    return Fetcher(f"download {url}", frozenset(members.values()), fetch)


_RECBOLE_REQUIREMENT = "recbole==1.2.1"
_RECBOLE_ML100K = "recbole/dataset_example/ml-100k/"
# RecBole's typed header; the rows below it are GroupLens' u.data byte for byte (tab, LF).
_RECBOLE_INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def _fetch_recbole_ml100k(staging: Path) -> None:
    """Rebuild u.data from the copy of MovieLens 100K inside the RecBole wheel on PyPI."""
    with tempfile.TemporaryDirectory() as folder:
        wheel = _pip_download(_RECBOLE_REQUIREMENT, Path(folder))
        with zipfile.ZipFile(wheel) as archive:
            inter = _read_member(archive, _RECBOLE_ML100K + "ml-100k.inter", wheel.name)
            items = _read_member(archive, _RECBOLE_ML100K + "ml-100k.item", wheel.name)
    if not inter.startswith(_RECBOLE_INTER_HEADER):
        raise _SourceFailed(f"ml-100k.inter in {wheel.name} lacks the expected typed header")
    (staging / "u.data").write_bytes(inter[len(_RECBOLE_INTER_HEADER) :])
    (staging / "ml-100k.item").write_bytes(items)


# --------------------------------------------------------------------------- registry

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_LIGHTGCN_GOWALLA = (
    "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/master/data/gowalla/"
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
DATASETS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        description="MovieLens 100K (GroupLens): 100,000 ratings 1-5 by 943 users of 1,682 movies",
        interactions=FileLayout(("u.data",), _parse_ml100k),
        metadata=(
            FileLayout(("u.item", "u.genre"), _parse_ml100k_items),
            FileLayout(("ml-100k.item",), _parse_recbole_items),
        ),
        checksums={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
            "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        },
        fetchers=(
            _extract_from_zip(
                _GROUPLENS + "ml-100k.zip",
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                {f"ml-100k/{name}": name for name in ("u.data", "u.item", "u.genre")},
            ),
            Fetcher(
                f"PyPI mirror: {_RECBOLE_REQUIREMENT} wheel, {_RECBOLE_ML100K}",
                frozenset({"u.data", "ml-100k.item"}),
                _fetch_recbole_ml100k,
            ),
        ),
    ),
    "ml-1m": DatasetSpec(
        description="MovieLens 1M (GroupLens): 1,000,209 ratings 1-5 by 6,040 users",
        interactions=FileLayout(("ratings.dat",), _parse_ml1m),
        metadata=(FileLayout(("movies.dat",), _parse_ml1m_movies),),
        checksums={"ml-1m.zip": "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"},
        archive="ml-1m.zip",
        fetchers=(_download_files({"ml-1m.zip": _GROUPLENS + "ml-1m.zip"}),),
    ),
    "ml-20m": DatasetSpec(
        description="MovieLens 20M (GroupLens): 20,000,263 ratings 0.5-5 by 138,493 users",
        interactions=FileLayout(("ratings.csv",), _parse_movielens_csv),
        metadata=(FileLayout(("movies.csv",), _parse_movies_csv),),
        checksums={
            "ml-20m.zip": "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"
        },
        archive="ml-20m.zip",
        fetchers=(_download_files({"ml-20m.zip": _GROUPLENS + "ml-20m.zip"}),),
    ),
    "ml-latest-small": DatasetSpec(
        description="MovieLens latest-small (GroupLens, 2018): 100,836 ratings by 610 users",
        interactions=FileLayout(("ratings.csv",), _parse_movielens_csv),
        metadata=(FileLayout(("movies.csv",), _parse_movies_csv),),
        checksums={
            "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
            "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
        },
        fetchers=(
            _extract_from_zip(
                _GROUPLENS + "ml-latest-small.zip",
                None,
                {f"ml-latest-small/{name}": name for name in ("ratings.csv", "movies.csv")},
            ),
        ),
    ),
    "gowalla": DatasetSpec(
        description="Gowalla check-ins as split by the LightGCN authors (0-based ids, no ratings)",
        interactions=FileLayout(("train.txt", "test.txt"), _parse_gowalla),
        checksums={
            "train.txt": "7244696fdeb23911319cf7b689f2e15a3c4c92549c873a5677b44e3f13cc3e62",
            "test.txt": "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
        },
        fetchers=(
            _download_files({name: _LIGHTGCN_GOWALLA + name for name in ("train.txt", "test.txt")}),
        ),
    ),
    "custom": DatasetSpec(
        description="your own CSV or Parquet file given by `path`, columns named by `columns`",
        interactions=None,
    ),
}


# --------------------------------------------------------------------------- sources


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; valid names are {', '.join(DATASETS)} "
            "(use 'custom' with `path` for your own file)."
        ) from None


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"`path` {path} does not exist; point it at the data file or its folder.")
    return path


def _local_interaction_files(path: Path, files: Sequence[str]) -> LocatedFiles:
    if path.is_file():
        if len(files) != 1:
            raise DataError(
                f"`path` {path} is a file, but this dataset needs {', '.join(files)}: "
                "pass the folder holding them."
            )
        return LocatedFiles(origin=str(path), plain={files[0]: path})
    missing = [name for name in files if not (path / name).is_file()]
    if missing:
        raise DataError(
            f"`path` folder {path} has no {', '.join(missing)}; pass a folder holding "
            f"{', '.join(files)}, or the file itself."
        )
    return LocatedFiles(origin=str(path), plain={name: path / name for name in files})


def _verified_cache(
    spec: DatasetSpec, cache_dir: Path, files: Sequence[str], failures: list[str]
) -> LocatedFiles | None:
    """The cached files if all verify; a file that fails is removed so it is never used."""
    usable = True
    for name in spec.cache_files(files):
        cached = cache_dir / name
        if not cached.is_file():
            failures.append(f"cache {cached}: not there")
            usable = False
            continue
        expected, actual = spec.checksums[name], _sha256(cached)
        if actual != expected:
            try:
                cached.unlink()
                outcome = "removed"
            except OSError as error:
                outcome = f"not used, and could not be removed: {error}"
            logger.warning(
                "cached %s is corrupt or not the expected file (sha256 %s, expected %s); %s. "
                "To use your own copy, pass it as `path` instead.",
                cached,
                actual,
                expected,
                outcome,
            )
            failures.append(f"cache {cached}: sha256 {actual}, expected {expected}; {outcome}")
            usable = False
    if not usable:
        return None
    if spec.archive:
        return LocatedFiles(origin=f"cache {cache_dir}", archive=cache_dir / spec.archive)
    return LocatedFiles(
        origin=f"cache {cache_dir}", plain={name: cache_dir / name for name in files}
    )


def _fetch_into_cache(fetcher: Fetcher, spec: DatasetSpec, cache_dir: Path) -> None:
    """Fetch into a staging folder beside the cache, verify, then rename into place."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=cache_dir))
    try:
        fetcher.fetch(staging)
        fetched = sorted(staging.iterdir())
        for file in fetched:
            expected, actual = spec.checksums[file.name], _sha256(file)
            if actual != expected:
                raise _SourceFailed(f"fetched {file.name} has sha256 {actual}, expected {expected}")
        for file in fetched:
            os.replace(file, cache_dir / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _obtain(
    name: str, spec: DatasetSpec, raw_dir: Path, layouts: Sequence[tuple[str, ...]]
) -> tuple[int, LocatedFiles]:
    """Verified files for one of ``layouts`` (preferred first): cached, else fetched."""
    cache_dir = raw_dir / name
    failures: list[str] = []
    for index, files in enumerate(layouts):
        found = _verified_cache(spec, cache_dir, files, failures)
        if found is not None:
            logger.info("%s: using verified %s", name, found.origin)
            return index, found
    for fetcher in spec.fetchers:
        served = [
            i for i, files in enumerate(layouts) if set(spec.cache_files(files)) <= fetcher.provides
        ]
        if not served:
            continue
        index = served[0]
        try:
            _fetch_into_cache(fetcher, spec, cache_dir)
        except _FETCH_ERRORS as error:
            logger.warning("%s: %s failed: %s", name, fetcher.description, error)
            failures.append(f"{fetcher.description}: {error}")
            continue
        logger.info("%s: %s verified and stored in %s", name, fetcher.description, cache_dir)
        found = _verified_cache(spec, cache_dir, layouts[index], failures)
        assert found is not None, "files just verified and stored must verify"
        return index, found
    by_hand = ", ".join(
        f"{file} (sha256 {spec.checksums[file]})" for file in spec.cache_files(layouts[0])
    )
    tried = "\n".join(f"  - {failure}" for failure in failures)
    wanted = layouts[0]
    local = (
        f"{wanted[0]} itself or a folder holding it"
        if len(wanted) == 1
        else f"a folder holding {', '.join(wanted)}"
    )
    raise DataError(
        f"could not obtain dataset {name!r} ({spec.description}). Sources tried:\n{tried}\n"
        f"To provide it by hand, put {by_hand} into {cache_dir}/, "
        f"or pass `path`: {local}."
    )


def merge_duplicates(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Keep each (user, item) pair once, with its highest rating: the strongest signal wins.

    The kept row keeps its own timestamp.
    """
    pairs = list(_ID_COLUMNS)
    repeated = frame.duplicated(pairs)
    if not repeated.any():
        return frame
    affected_pairs = len(frame.loc[repeated, pairs].drop_duplicates())
    if "rating" in frame:
        by_rating = frame.sort_values("rating", ascending=False, kind="stable")
        merged = by_rating[~by_rating.duplicated(pairs)].sort_index()
        kept = "kept the highest rating of each"
    else:
        merged = frame[~repeated]
        kept = "kept one row of each"
    logger.warning(
        "%s: %d row(s) repeated a (user, item) pair; merged %d pair(s), %s",
        label,
        int(repeated.sum()),
        affected_pairs,
        kept,
    )
    return merged.reset_index(drop=True)


def _locate_interactions(
    name: str, spec: DatasetSpec, raw_dir: str | Path, path: str | Path | None
) -> LocatedFiles:
    assert spec.interactions is not None
    files = spec.interactions.files
    if path is not None:
        return _local_interaction_files(_existing(path), files)
    return _obtain(name, spec, Path(raw_dir), [files])[1]


# --------------------------------------------------------------------------- public API


def load_interactions(
    name: str,
    raw_dir: str | Path,
    path: str | Path | None = None,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Interactions of dataset ``name`` as columns user, item[, rating][, timestamp].

    Ids stay as in the raw data so that results can be traced back to it; remapping them
    to indices is the job of a later stage.
    """
    spec = _spec(name)
    if spec.interactions is None:
        frame = _read_custom(path, columns)
        origin = str(path)
    else:
        if columns is not None:
            raise DataError(
                f"`columns` applies only to dataset 'custom'; {name!r} has a fixed layout. "
                "Remove `columns`, or use 'custom' for a file with other column names."
            )
        files = _locate_interactions(name, spec, raw_dir, path)
        frame = spec.interactions.parse(files)
        origin = files.origin
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
    if path is not None:
        located = _existing(path)
        folder = located if located.is_dir() else located.parent
        for layout in spec.metadata:
            if all((folder / file).is_file() for file in layout.files):
                plain = {file: folder / file for file in layout.files}
                return layout.parse(LocatedFiles(origin=str(folder), plain=plain))
        expected = " or ".join(" + ".join(layout.files) for layout in spec.metadata)
        logger.warning("%s: no item metadata in %s (expected %s)", name, folder, expected)
        return None
    index, files = _obtain(name, spec, Path(raw_dir), [layout.files for layout in spec.metadata])
    return spec.metadata[index].parse(files)


def load_gowalla_split(
    raw_dir: str | Path, path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LightGCN's Gowalla train and test interactions, kept apart as its protocol needs."""
    spec = DATASETS["gowalla"]
    files = _locate_interactions("gowalla", spec, raw_dir, path)
    train, test = (
        merge_duplicates(_parse_lightgcn_split(files, split), f"gowalla {split}")
        for split in ("train.txt", "test.txt")
    )
    return train, test
