"""Parsers of the interaction and item files each dataset comes in, and their validation.

Whatever the source, the parsed rows are checked (ids, numeric ratings, at least one row),
suspect values are refused or reported with examples of their rows, and repeated
(user, item) pairs are merged loudly, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from vaeops.data.lightgcn import read_user_items
from vaeops.data.sources import LocatedFiles
from vaeops.errors import DataError

logger = logging.getLogger(__name__)

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")
_ID_COLUMNS = ("user", "item")


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


def _show(value: object) -> str:
    if pd.isna(value):
        return "(missing)"
    # NumPy 2 would show a number as np.float64(196.5).
    return repr(value.item() if isinstance(value, np.generic) else value)


def _describe_rows(values: pd.Series, rows: np.ndarray) -> str:
    shown = ", ".join(f"row {row + 1}: {_show(values.iloc[row])}" for row in rows[:5])
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


def _epoch_seconds(times: pd.Series, label: str) -> pd.Series:
    """Dates and times as whole seconds since 1970-01-01 UTC, the unit of the text files;
    taken as numbers they would be micro- or nanoseconds."""
    if times.dt.tz is None:
        utc, zone = times.dt.tz_localize("UTC"), "they carry no time zone, so UTC is assumed"
    else:
        utc, zone = times.dt.tz_convert("UTC"), f"converted from {times.dt.tz}"
    logger.info(
        "%s: timestamp holds dates and times; read as whole seconds since 1970-01-01 UTC (%s)",
        label,
        zone,
    )
    return (utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def _standardise(frame: pd.DataFrame, label: str, integer_ids: bool) -> pd.DataFrame:
    """Give every source the same columns and dtypes, so that later stages need no cases.

    Ids stay as given where they are strings (custom files may use them); numeric ids must
    be whole numbers, as 196.5 would otherwise become a user of its own.
    """
    if frame.empty:
        raise DataError(f"{label} has no interaction rows.")
    result: dict[str, pd.Series] = {}
    for column in _ID_COLUMNS:
        stored_as_floats = pd.api.types.is_float_dtype(frame[column])
        if integer_ids or stored_as_floats:
            result[column] = _numbers(frame[column], column, label, integer=True)
            if stored_as_floats:
                logger.info(
                    "%s: %s ids are stored as floats, all whole numbers; read as integers",
                    label,
                    column,
                )
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
        times = frame["timestamp"]
        if pd.api.types.is_datetime64_any_dtype(times):
            times = _epoch_seconds(times, label)
        result["timestamp"] = _numbers(times, "timestamp", label, integer=True)
    return pd.DataFrame(result).reset_index(drop=True)


def report_suspect_ratings(
    frame: pd.DataFrame, label: str, scale: tuple[float, float] | None
) -> None:
    """Warn, with their count and rows, about ratings off the dataset's ``scale``, or
    negative ones where it has none: they are kept, but preprocessing's rating_threshold
    would otherwise drop or keep them without a word."""
    if "rating" not in frame:
        return
    ratings = frame["rating"]
    if scale is None:
        suspect, kind = ratings < 0, "negative"
    else:
        low, high = scale
        suspect, kind = ~ratings.between(low, high), f"outside this dataset's {low:g}-{high:g}"
    if suspect.any():
        rows = np.flatnonzero(suspect.to_numpy())
        logger.warning(
            "%s: %d of %d ratings are %s (%s). They are kept as given, and preprocessing's "
            "rating_threshold treats them like any other rating; if they are mistakes, fix or "
            "remove those rows.",
            label,
            len(rows),
            len(ratings),
            kind,
            _describe_rows(ratings, rows),
        )


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


def parse_ml100k(files: LocatedFiles) -> pd.DataFrame:
    with files.open("u.data") as stream:
        return _parse_headerless_ratings(stream, files.label("u.data"), "\t")


def _ml1m_as_tab_separated(files: LocatedFiles, name: str) -> IO[bytes]:
    """ML-1M separates fields by "::", which would force pandas' slow Python engine; a tab is
    equivalent here and is parsed in C."""
    with files.open(name) as stream:
        return io.BytesIO(stream.read().replace(b"::", b"\t"))


def _parse_grouplens_items(stream: IO[bytes], label: str, separator: str) -> pd.DataFrame:
    """A headerless GroupLens item table: Latin-1 titles, quote marks as plain characters."""
    return _parse_csv(
        stream, label, sep=separator, header=None, encoding="latin-1", quoting=csv.QUOTE_NONE
    )


def parse_ml1m(files: LocatedFiles) -> pd.DataFrame:
    text = _ml1m_as_tab_separated(files, "ratings.dat")
    return _parse_headerless_ratings(text, files.label("ratings.dat"), "\t")


def parse_movielens_csv(files: LocatedFiles) -> pd.DataFrame:
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


# The train and test parts of a split as the LightGCN authors ship it.
LIGHTGCN_SPLIT_FILES = ("train.txt", "test.txt")


def parse_lightgcn_split(files: LocatedFiles, name: str) -> pd.DataFrame:
    with files.open(name) as stream:
        users, items = read_user_items(stream, files.label(name))
    return pd.DataFrame({"user": users, "item": items})


def parse_lightgcn_folder(files: LocatedFiles) -> pd.DataFrame:
    """Both parts of a LightGCN-format folder as one table of interactions."""
    parts = [parse_lightgcn_split(files, name) for name in LIGHTGCN_SPLIT_FILES]
    return pd.concat(parts, ignore_index=True)


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


def parse_ml100k_items(files: LocatedFiles) -> pd.DataFrame:
    with files.open("u.genre") as stream:
        genre_table = _parse_csv(stream, files.label("u.genre"), sep="|", header=None)
    genre_names = genre_table.sort_values(1)[0].tolist()
    with files.open("u.item") as stream:
        table = _parse_grouplens_items(stream, files.label("u.item"), "|")
    flags = table.iloc[:, -len(genre_names) :].to_numpy() == 1
    genres = ["|".join(np.asarray(genre_names)[row]) for row in flags]
    return _metadata_frame(table[0], table[1], pd.Series(genres), files.label("u.item"))


def parse_recbole_items(files: LocatedFiles) -> pd.DataFrame:
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


def parse_ml1m_movies(files: LocatedFiles) -> pd.DataFrame:
    text = _ml1m_as_tab_separated(files, "movies.dat")
    table = _parse_grouplens_items(text, files.label("movies.dat"), "\t")
    return _metadata_frame(table[0], table[1], table[2], files.label("movies.dat"))


def parse_movies_csv(files: LocatedFiles) -> pd.DataFrame:
    label = files.label("movies.csv")
    with files.open("movies.csv") as stream:
        table = _parse_csv(stream, label)
    _require_columns(table, ["movieId", "title", "genres"], label, "Check `path`.")
    # GroupLens writes this placeholder where a movie has no genre; it is not a genre.
    genres = table["genres"].replace("(no genres listed)", "")
    return _metadata_frame(table["movieId"], table["title"], genres, label)


_TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t"}
# Read by pandas, which infers each from the suffix.
_COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz", ".zst")
_FORMATS = f".parquet, .csv or .tsv (the last two also compressed: {', '.join(_COMPRESSIONS)})"


def _read_table(path: Path, separator: str | None) -> pd.DataFrame:
    """A custom file, read by its suffix; ``separator`` replaces the text format's own."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        if separator is not None:
            raise DataError(
                f"`separator` applies to CSV and TSV files, but {path} is Parquet; remove it."
            )
        return pd.read_parquet(path)
    for compression in _COMPRESSIONS:
        name = name.removesuffix(compression)
    text_format = Path(name).suffix
    if text_format not in _TEXT_SEPARATORS:
        raise DataError(
            f"cannot read {path}: custom datasets are read by suffix, one of {_FORMATS}; "
            "rename the file to match its format."
        )
    separator = _TEXT_SEPARATORS[text_format] if separator is None else separator
    if len(separator) > 1:
        # pandas takes a longer separator as a regular expression; "::" is meant literally.
        return pd.read_csv(path, sep=re.escape(separator), engine="python")
    return pd.read_csv(path, sep=separator)


def read_custom(
    path: str | Path | None, columns: Mapping[str, str] | None, separator: str | None = None
) -> pd.DataFrame:
    if path is None:
        raise DataError(
            "dataset 'custom' needs `path`: a CSV, TSV or Parquet file with one row per "
            "interaction and at least a user and an item column (name them with `columns`)."
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(f"custom dataset file {path} does not exist or is not a file.")
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
        frame = _read_table(path, separator)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it should hold one interaction per row.") from None
    # Parser, decoding, decompression and Arrow errors alike; ImportError: pandas lacks the
    # optional package of a compression, e.g. zstandard.
    except (ValueError, OSError, ImportError) as error:
        raise DataError(f"{path} could not be read: {error}") from error
    required = [
        *_ID_COLUMNS,
        *(role for role in mapping if role in (columns or {}) and role not in _ID_COLUMNS),
    ]
    missing = {role: mapping[role] for role in required if mapping[role] not in frame.columns}
    if missing:
        wanted = ", ".join(f"{role!r} -> {name!r}" for role, name in missing.items())
        hint = (
            " A single column holding whole lines means the separator is wrong: set `separator`."
            if frame.shape[1] == 1
            else ""
        )
        raise DataError(
            f"{path} lacks the column(s) for {wanted}; its columns are {list(frame.columns)}. "
            "Set `columns` to the file's names, e.g. columns={'user': '<column>', "
            f"'item': '<column>', 'rating': '<column>'}} (rating and timestamp optional).{hint}"
        )
    present = {role: name for role, name in mapping.items() if name in frame.columns}
    logger.info("custom: reading %s with columns %s", path, present)
    renamed = frame[list(present.values())].set_axis(list(present), axis=1)
    return _standardise(renamed, str(path), integer_ids=False)


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
