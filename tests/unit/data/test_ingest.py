"""Tests for vaeops.data.ingest and the sources and parsers behind it: checksums, caching,
parsing and the errors users see.

Everything runs offline on synthetic files except the PyPI mirror test, which downloads the
RecBole wheel (about 2 MB) with pip. Real data comes from ../shared/data when that folder
exists; for MovieLens 100K the mirror stands in for it on clones without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import pytest

from vaeops.data import sources
from vaeops.data.ingest import DATASETS, load_given_split, load_interactions, load_item_metadata
from vaeops.data.lightgcn import read_user_items
from vaeops.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
U_DATA_SHA256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def no_network(url: str) -> bytes:
    raise OSError("no network in tests")


def serve(monkeypatch: pytest.MonkeyPatch, respond: Callable[[str], bytes]) -> list[str]:
    """Answer pooch's HTTP downloads with ``respond(url)``; returns the URLs asked for.

    Only the transport is replaced: pooch still checks the hash and moves the file.
    """
    asked: list[str] = []

    def download(self, url, output_file, pooch_instance, check_only=False):
        asked.append(url)
        Path(output_file).write_bytes(respond(url))

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", download)
    return asked


def pin(monkeypatch: pytest.MonkeyPatch, name: str, checksums: dict[str, str]) -> None:
    """Pin dataset ``name`` to the checksums of synthetic files."""
    spec = DATASETS[name]
    pinned = dataclasses.replace(spec.sources, checksums=checksums)
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, sources=pinned))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every outside source fails at once; the list records what was asked for."""
    asked = serve(monkeypatch, no_network)

    def pip_download(requirement: str, folder: Path) -> Path:
        asked.append(requirement)
        raise OSError("no package index in tests")

    monkeypatch.setattr(sources, "_pip_download", pip_download)
    return asked


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="vaeops.data")
    return caplog


# --------------------------------------------------------------------------- real ml-100k


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def mirrored(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, pd.DataFrame, list[logging.LogRecord]]:
    """A raw_dir filled from the PyPI mirror, GroupLens made unreachable so the mirror
    runs, and what vaeops.data logged at INFO and above meanwhile."""
    raw_dir = tmp_path_factory.mktemp("raw")
    recorded, data_logger = Recorded(), logging.getLogger("vaeops.data")
    level = data_logger.level
    data_logger.addHandler(recorded)
    data_logger.setLevel(logging.INFO)
    try:
        with pytest.MonkeyPatch.context() as patch:
            serve(patch, no_network)
            frame = load_interactions("ml-100k", raw_dir)
    finally:
        data_logger.removeHandler(recorded)
        data_logger.setLevel(level)
    return raw_dir, frame, [r for r in recorded.records if r.levelno >= logging.INFO]


@pytest.fixture(scope="module")
def mirrored_raw_dir(mirrored) -> tuple[Path, pd.DataFrame]:
    return mirrored[:2]


@pytest.fixture(scope="module")
def ml100k_folder(mirrored_raw_dir: tuple[Path, pd.DataFrame]) -> Path:
    shared = SHARED_DATA / "ml-100k"
    return shared if (shared / "u.data").is_file() else mirrored_raw_dir[0] / "ml-100k"


def test_pypi_mirror_rebuilds_u_data_byte_for_byte(mirrored_raw_dir):
    raw_dir, frame = mirrored_raw_dir
    rebuilt = (raw_dir / "ml-100k" / "u.data").read_bytes()
    assert sha256_of(rebuilt) == U_DATA_SHA256
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame.dtypes.astype(str).tolist() == ["int64", "int64", "float64", "int64"]
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (100_000, 943, 1_682)
    assert sorted(p.name for p in (raw_dir / "ml-100k").iterdir()) == ["ml-100k.item", "u.data"]


def test_a_fallback_that_succeeds_is_one_info_line(mirrored):
    raw_dir, _, records = mirrored
    fetched = [r for r in records if r.name == "vaeops.data.sources"]
    assert [r.levelname for r in fetched] == ["INFO"]
    assert fetched[0].getMessage() == (
        "ml-100k: download https://files.grouplens.org/datasets/movielens/ml-100k.zip failed "
        "(OSError); PyPI mirror: recbole==1.2.1 wheel, recbole/dataset_example/ml-100k/ "
        f"verified and stored in {raw_dir / 'ml-100k'}"
    )


def test_second_call_uses_the_cache_without_downloading(mirrored_raw_dir, offline):
    raw_dir, first = mirrored_raw_dir
    again = load_interactions("ml-100k", raw_dir)
    assert offline == []
    pd.testing.assert_frame_equal(again, first)


def test_pypi_mirror_item_metadata(mirrored_raw_dir, offline):
    items = load_item_metadata("ml-100k", mirrored_raw_dir[0])
    assert offline == []
    assert len(items) == 1_682
    toy_story = items.set_index("item").loc[1]
    assert (toy_story["title"], toy_story["genres"]) == (
        "Toy Story (1995)",
        "Animation|Children's|Comedy",
    )


def test_ml100k_from_a_local_folder(ml100k_folder, tmp_path, offline):
    frame = load_interactions("ml-100k", tmp_path / "raw", path=ml100k_folder)
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (100_000, 943, 1_682)
    assert set(frame["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert offline == []
    assert not (tmp_path / "raw").exists(), "a local path must not touch the cache"
    items = load_item_metadata("ml-100k", tmp_path / "raw", path=ml100k_folder)
    assert len(items) == 1_682 and items["item"].is_unique


def test_local_path_wins_over_a_verified_cache(mirrored_raw_dir, tmp_path):
    own = tmp_path / "u.data"
    own.write_text("1\t2\t4\t100\n")
    frame = load_interactions("ml-100k", mirrored_raw_dir[0], path=own)
    assert frame.to_dict("records") == [{"user": 1, "item": 2, "rating": 4.0, "timestamp": 100}]


def test_every_source_failing_says_what_was_tried_and_what_to_drop_in(tmp_path, offline):
    with pytest.raises(DataError) as error:
        load_interactions("ml-100k", tmp_path)
    message = str(error.value)
    assert "'ml-100k'" in message
    assert f"cache {tmp_path / 'ml-100k' / 'u.data'}: not there" in message
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip: no network" in message
    assert "PyPI mirror" in message and "no package index" in message
    assert f"put u.data (sha256 {U_DATA_SHA256}) into {tmp_path / 'ml-100k'}/" in message
    assert "pass `path`" in message
    assert offline == [
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        "recbole==1.2.1",
    ]


# --------------------------------------------------------------------------- cache and checksums

TRAIN = b"0 0 1 2\n1 2 3\n"
TEST = b"0 3\n1 0\n"


@pytest.fixture
def fake_lightgcn(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes], list[str]]:
    """Gowalla pinned to tiny synthetic files and served by a fake downloader."""
    served = {"train.txt": TRAIN, "test.txt": TEST}
    pin(monkeypatch, "gowalla", {name: sha256_of(data) for name, data in served.items()})
    asked = serve(monkeypatch, lambda url: served[url.rsplit("/", 1)[1]])
    return served, asked


def test_download_is_verified_cached_and_reused(fake_lightgcn, tmp_path, monkeypatch):
    _, asked = fake_lightgcn
    first = load_interactions("gowalla", tmp_path)
    assert len(asked) == 2
    assert (tmp_path / "gowalla" / "train.txt").read_bytes() == TRAIN
    serve(monkeypatch, no_network)
    pd.testing.assert_frame_equal(load_interactions("gowalla", tmp_path), first)
    assert first.to_dict("list") == {"user": [0, 0, 0, 1, 1, 0, 1], "item": [0, 1, 2, 2, 3, 3, 0]}


def test_corrupt_cached_file_is_removed_reported_and_replaced(fake_lightgcn, tmp_path, logs):
    _, asked = fake_lightgcn
    cached = tmp_path / "gowalla" / "train.txt"
    cached.parent.mkdir()
    cached.write_bytes(TRAIN[:5])
    (cached.parent / "test.txt").write_bytes(TEST)
    frame = load_interactions("gowalla", tmp_path)
    assert len(frame) == 7
    assert cached.read_bytes() == TRAIN
    warning = next(r.getMessage() for r in logs.records if r.levelno == logging.WARNING)
    assert str(cached) in warning
    assert sha256_of(TRAIN[:5]) in warning and sha256_of(TRAIN) in warning
    assert [url.rsplit("/", 1)[1] for url in asked] == ["train.txt"], "test.txt was verified"


def test_corrupt_cached_file_is_never_used(fake_lightgcn, tmp_path, monkeypatch):
    cached = tmp_path / "gowalla" / "train.txt"
    cached.parent.mkdir()
    cached.write_bytes(b"0 0\n")
    (cached.parent / "test.txt").write_bytes(TEST)
    serve(monkeypatch, no_network)
    with pytest.raises(DataError, match="removed") as error:
        load_interactions("gowalla", tmp_path)
    assert not cached.exists()
    assert sha256_of(b"0 0\n") in str(error.value)


def test_download_failing_its_checksum_never_enters_the_cache(fake_lightgcn, tmp_path):
    served, _ = fake_lightgcn
    served["test.txt"] = b"0 1\n"
    with pytest.raises(DataError, match=f"expected sha256:{sha256_of(TEST)}"):
        load_interactions("gowalla", tmp_path)
    assert [p.name for p in (tmp_path / "gowalla").iterdir()] == ["train.txt"]
    assert (tmp_path / "gowalla" / "train.txt").read_bytes() == TRAIN


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_members_extracted_from_a_downloaded_zip_are_verified(tmp_path, monkeypatch):
    ratings = b"userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,0.5,200\n"
    movies = b'movieId,title,genres\n10,"Heat, The (1995)",(no genres listed)\n'
    archive = zip_bytes(
        {"ml-latest-small/ratings.csv": ratings, "ml-latest-small/movies.csv": movies}
    )
    serve(monkeypatch, lambda url: archive)
    pin(
        monkeypatch,
        "ml-latest-small",
        {"ratings.csv": sha256_of(ratings), "movies.csv": sha256_of(movies)},
    )
    frame = load_interactions("ml-latest-small", tmp_path)
    assert frame["rating"].tolist() == [4.5, 0.5]
    assert sorted(p.name for p in (tmp_path / "ml-latest-small").iterdir()) == [
        "movies.csv",
        "ratings.csv",
    ]
    items = load_item_metadata("ml-latest-small", tmp_path)
    assert items.to_dict("records") == [{"item": 10, "title": "Heat, The (1995)", "genres": ""}]


def test_extracted_member_failing_its_checksum_never_enters_the_cache(tmp_path, monkeypatch):
    ratings = b"userId,movieId,rating,timestamp\n1,10,4.5,100\n"
    movies = b"movieId,title,genres\n10,Heat (1995),Action\n"
    archive = zip_bytes(
        {"ml-latest-small/ratings.csv": ratings, "ml-latest-small/movies.csv": movies}
    )
    serve(monkeypatch, lambda url: archive)
    pinned = {"ratings.csv": sha256_of(b"other ratings"), "movies.csv": sha256_of(movies)}
    pin(monkeypatch, "ml-latest-small", pinned)
    with pytest.raises(DataError) as error:
        load_interactions("ml-latest-small", tmp_path)
    assert f"sha256 {sha256_of(ratings)}, expected {pinned['ratings.csv']}" in str(error.value)
    assert list((tmp_path / "ml-latest-small").iterdir()) == []


def test_cached_zip_is_read_in_place(tmp_path, monkeypatch, offline):
    ratings = b"1::10::5::978300760\n1::11::3::978300761\n"
    movies = "10::Amélie (2001)::Comedy|Romance\n".encode("latin-1")
    archive = zip_bytes({"ml-1m/ratings.dat": ratings, "ml-1m/movies.dat": movies})
    pin(monkeypatch, "ml-1m", {"ml-1m.zip": sha256_of(archive)})
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ml-1m.zip").write_bytes(archive)
    frame = load_interactions("ml-1m", tmp_path)
    assert frame.to_dict("list") == {
        "user": [1, 1],
        "item": [10, 11],
        "rating": [5.0, 3.0],
        "timestamp": [978300760, 978300761],
    }
    items = load_item_metadata("ml-1m", tmp_path)
    assert items.to_dict("records") == [
        {"item": 10, "title": "Amélie (2001)", "genres": "Comedy|Romance"}
    ]
    assert offline == []


# --------------------------------------------------------------------------- bad input


def test_unknown_dataset_lists_the_valid_names(tmp_path):
    with pytest.raises(DataError) as error:
        load_interactions("movielens", tmp_path)
    assert all(name in str(error.value) for name in DATASETS)


def test_custom_without_path(tmp_path):
    with pytest.raises(DataError, match="needs `path`"):
        load_interactions("custom", tmp_path)


def test_custom_with_misnamed_columns_says_what_is_missing_and_what_exists(tmp_path):
    file = tmp_path / "events.csv"
    file.write_text("uid,iid,score\na,x,1\n")
    with pytest.raises(DataError) as error:
        load_interactions("custom", tmp_path, path=file, columns={"user": "uid", "item": "item_id"})
    message = str(error.value)
    assert "'item' -> 'item_id'" in message and "'user'" not in message.split(";")[0]
    assert "['uid', 'iid', 'score']" in message
    assert "`columns`" in message


def test_custom_columns_with_an_unknown_key(tmp_path):
    file = tmp_path / "events.csv"
    file.write_text("user,item\na,x\n")
    with pytest.raises(DataError, match=r"unknown key\(s\) \['score'\]"):
        load_interactions("custom", tmp_path, path=file, columns={"score": "s"})


def test_columns_are_refused_for_fixed_layouts(tmp_path):
    with pytest.raises(DataError, match="only to dataset 'custom'"):
        load_interactions("ml-100k", tmp_path, columns={"user": "u"})


def test_non_numeric_ratings_show_values_and_rows(tmp_path):
    file = tmp_path / "u.data"
    file.write_text("1\t2\t4\t100\n1\t3\tgood\t100\n2\t2\t\t100\n")
    with pytest.raises(DataError) as error:
        load_interactions("ml-100k", tmp_path, path=file)
    message = str(error.value)
    assert "rating must be a number" in message
    assert "row 2: 'good'" in message and "row 3: (missing)" in message


def test_non_numeric_ratings_in_a_custom_file(tmp_path):
    file = tmp_path / "events.csv"
    file.write_text("user,item,stars\na,x,5\nb,y,five\n")
    with pytest.raises(DataError, match="row 2: 'five'"):
        load_interactions("custom", tmp_path, path=file, columns={"rating": "stars"})


def test_non_integer_movielens_ids(tmp_path):
    file = tmp_path / "ratings.csv"
    file.write_text("userId,movieId,rating,timestamp\n1,tt0111,4.0,5\n")
    with pytest.raises(DataError, match="item must be an integer.*row 1: 'tt0111'"):
        load_interactions("ml-latest-small", tmp_path, path=file)


def test_movielens_csv_with_the_wrong_header(tmp_path):
    file = tmp_path / "ratings.csv"
    file.write_text("user,movie,rating,timestamp\n1,2,4.0,5\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['userId', 'movieId'\]"):
        load_interactions("ml-20m", tmp_path, path=file)


def test_headerless_file_with_the_wrong_number_of_columns(tmp_path):
    file = tmp_path / "u.data"
    file.write_text("1\t2\t4\n")
    with pytest.raises(DataError, match="should have 4 columns"):
        load_interactions("ml-100k", tmp_path, path=file)


@pytest.mark.parametrize(
    ("name", "content"),
    [("u.data", ""), ("events.csv", ""), ("events.csv", "user,item\n")],
)
def test_empty_files(tmp_path, name, content):
    file = tmp_path / name
    file.write_text(content)
    dataset = "ml-100k" if name == "u.data" else "custom"
    with pytest.raises(DataError, match="is empty|no interaction rows"):
        load_interactions(dataset, tmp_path, path=file)


def test_missing_path_and_incomplete_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_interactions("ml-100k", tmp_path, path=tmp_path / "nowhere")
    with pytest.raises(DataError, match="has no u.data"):
        load_interactions("ml-100k", tmp_path, path=tmp_path)
    with pytest.raises(DataError, match="pass the folder"):
        (tmp_path / "train.txt").write_text("0 1\n")
        load_given_split("gowalla", tmp_path, path=tmp_path / "train.txt")


# --------------------------------------------------------------------------- parsing


def test_duplicates_keep_the_highest_rating_and_are_counted(tmp_path, logs):
    file = tmp_path / "events.csv"
    file.write_text("user,item,rating,timestamp\na,x,2,1\na,x,5,2\nb,x,1,3\na,x,3,4\n")
    frame = load_interactions("custom", tmp_path, path=file)
    assert frame.to_dict("records") == [
        {"user": "a", "item": "x", "rating": 5.0, "timestamp": 2},
        {"user": "b", "item": "x", "rating": 1.0, "timestamp": 3},
    ]
    warning = next(r.getMessage() for r in logs.records if r.levelno == logging.WARNING)
    assert "2 row(s) repeated" in warning and "merged 1 pair(s)" in warning


def test_duplicates_without_ratings_are_deduplicated(tmp_path, logs):
    file = tmp_path / "events.csv"
    file.write_text("user,item\na,x\na,x\nb,y\n")
    frame = load_interactions("custom", tmp_path, path=file)
    assert list(frame.columns) == ["user", "item"]
    assert frame.to_dict("list") == {"user": ["a", "b"], "item": ["x", "y"]}
    assert any("1 row(s) repeated" in r.getMessage() for r in logs.records)


def test_custom_parquet_keeps_its_id_type_and_maps_columns(tmp_path):
    file = tmp_path / "events.parquet"
    pd.DataFrame({"who": ["u1", "u2"], "what": ["i9", "i8"], "when": [10.0, 11.0]}).to_parquet(file)
    frame = load_interactions(
        "custom", tmp_path, path=file, columns={"user": "who", "item": "what", "timestamp": "when"}
    )
    assert list(frame.columns) == ["user", "item", "timestamp"]
    assert frame["user"].tolist() == ["u1", "u2"]
    assert frame["timestamp"].dtype == "int64"


def test_gowalla_split_with_a_user_without_items(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n5\n\n1 3 \n")
    (tmp_path / "test.txt").write_text("0 4\n1\n")
    train, test = load_given_split("gowalla", tmp_path / "raw", path=tmp_path)
    assert train.to_dict("list") == {"user": [0, 0, 1], "item": [1, 2, 3]}
    assert test.to_dict("list") == {"user": [0], "item": [4]}
    union = load_interactions("gowalla", tmp_path / "raw", path=tmp_path)
    assert len(union) == 4 and list(union.columns) == ["user", "item"]


def test_any_lightgcn_format_folder_is_a_given_split_but_needs_its_path(tmp_path):
    folder = tmp_path / "yelp2018"
    folder.mkdir()
    (folder / "train.txt").write_text("10 3 4\n11 4\n")
    (folder / "test.txt").write_text("10 5\n11 3 6\n")
    train, test = load_given_split("lightgcn", tmp_path / "raw", path=folder)
    assert train.to_dict("list") == {"user": [10, 10, 11], "item": [3, 4, 4]}
    assert test.to_dict("list") == {"user": [10, 11, 11], "item": [5, 3, 6]}
    assert len(load_interactions("lightgcn", tmp_path / "raw", path=folder)) == 6
    with pytest.raises(DataError, match="has no download: set the dataset's `path`"):
        load_given_split("lightgcn", tmp_path / "raw")
    with pytest.raises(
        DataError,
        match="ships no train/test split.*gowalla, lightgcn.*kedro run --pipeline benchmark",
    ):
        load_given_split("ml-100k", tmp_path / "raw", path=folder)


def test_lightgcn_reader_gives_the_pairs_in_file_order():
    users, items = read_user_items(io.BytesIO(b"3 7 1\n\n4\n0 2 \n"), "split.txt")
    assert (users.tolist(), items.tolist()) == ([3, 3, 0], [7, 1, 2])
    assert users.dtype == items.dtype == np.int64
    with pytest.raises(DataError, match="split.txt has no interactions"):
        read_user_items(io.BytesIO(b"4\n5\n"), "split.txt")


def test_gowalla_line_with_a_non_integer_id(tmp_path):
    (tmp_path / "train.txt").write_text("0 1\n1 x\n")
    (tmp_path / "test.txt").write_text("0 2\n")
    with pytest.raises(DataError, match="train.txt line 2"):
        load_given_split("gowalla", tmp_path / "raw", path=tmp_path)


def test_metadata_missing_next_to_a_local_file_warns_and_returns_none(tmp_path, logs):
    (tmp_path / "u.data").write_text("1\t2\t4\t100\n")
    assert load_item_metadata("ml-100k", tmp_path / "raw", path=tmp_path / "u.data") is None
    assert any("no item metadata" in r.getMessage() for r in logs.records)
    assert load_item_metadata("gowalla", tmp_path) is None
    assert load_item_metadata("custom", tmp_path) is None


# --------------------------------------------------------------------------- shared real data


def shared_folder(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent and {name} has no offline mirror")
    return folder


def test_ml_latest_small_from_shared_data(tmp_path):
    folder = shared_folder("ml-latest-small")
    frame = load_interactions("ml-latest-small", tmp_path, path=folder)
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (100_836, 610, 9_724)
    assert frame["rating"].between(0.5, 5).all() and (frame["rating"] * 2 % 1 == 0).all()
    items = load_item_metadata("ml-latest-small", tmp_path, path=folder)
    assert set(frame["item"]) <= set(items["item"])


def test_gowalla_from_shared_data(tmp_path):
    train, test = load_given_split("gowalla", tmp_path, path=shared_folder("gowalla"))
    assert (len(train), len(test)) == (810_128, 217_242)
    union = pd.concat([train, test])
    assert (union["user"].nunique(), union["item"].nunique()) == (29_858, 40_981)
