"""Suspect input to ingestion is named, never silently taken: datetimes become epoch seconds
(not micro- or nanoseconds), fractional or non-finite ids are refused with their rows,
off-scale ratings are counted and shown, and the text formats users bring are read."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest

from vaeops.data.ingest import load_interactions
from vaeops.errors import DataError


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="vaeops.data")
    return caplog


def messages(logs: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [record.getMessage() for record in logs.records if record.levelno == level]


def load_custom(tmp_path, file, **options) -> pd.DataFrame:
    return load_interactions("custom", tmp_path, path=file, **options)


# --------------------------------------------------------------------------- timestamps


def test_datetime_timestamps_become_epoch_seconds_read_as_utc(tmp_path, logs):
    file = tmp_path / "events.parquet"
    times = pd.to_datetime(["1970-01-01 00:01:40", "2001-09-09 01:46:40.900"], format="ISO8601")
    times = times.astype("datetime64[ns]")  # as numbers these would be nanoseconds
    pd.DataFrame({"user": [1, 2], "item": [3, 4], "timestamp": times}).to_parquet(file)
    frame = load_custom(tmp_path, file)
    # 100 s after the epoch; 10**9 s, the fraction of a second dropped.
    assert frame["timestamp"].tolist() == [100, 1_000_000_000]
    assert frame["timestamp"].dtype == "int64"
    notes = [m for m in messages(logs, logging.INFO) if "dates and times" in m]
    assert len(notes) == 1 and "UTC is assumed" in notes[0]


def test_time_zone_aware_timestamps_are_converted_to_utc(tmp_path, logs):
    file = tmp_path / "events.parquet"
    # Midnight in Berlin in winter (UTC+1) is 23:00 UTC the day before.
    times = pd.to_datetime(["1970-01-02 00:00:00"]).tz_localize("Europe/Berlin")
    pd.DataFrame({"user": [1], "item": [3], "timestamp": times}).to_parquet(file)
    assert load_custom(tmp_path, file)["timestamp"].tolist() == [86_400 - 3_600]
    assert any("converted from Europe/Berlin" in m for m in messages(logs, logging.INFO))


def test_missing_datetime_is_refused_with_its_row(tmp_path):
    file = tmp_path / "events.parquet"
    times = pd.to_datetime(["2001-01-01", None, "2001-01-02"])
    pd.DataFrame({"user": [1, 2, 3], "item": [3, 4, 5], "timestamp": times}).to_parquet(file)
    with pytest.raises(DataError, match=r"timestamp must be an integer.*row 2: \(missing\)"):
        load_custom(tmp_path, file)


# --------------------------------------------------------------------------- ids


def test_fractional_ids_are_refused_naming_at_most_five_rows(tmp_path):
    file = tmp_path / "events.csv"
    users = ["1", "196.5", "3", "4.25", "5", "6.5", "7.5", "8.5", "9.5"]
    file.write_text("user,item\n" + "".join(f"{user},10\n" for user in users))
    with pytest.raises(DataError) as error:
        load_custom(tmp_path, file)
    message = str(error.value)
    assert str(file) in message
    assert "user must be an integer in every row, but 6 row(s) are not" in message
    assert "row 2: 196.5, row 4: 4.25, row 6: 6.5, row 7: 7.5, row 8: 8.5, ..." in message
    assert "row 9" not in message
    assert "Fix or remove those rows" in message


@pytest.mark.parametrize(("value", "shown"), [("", "(missing)"), ("inf", "inf")])
def test_missing_or_infinite_numeric_ids_are_refused(tmp_path, value, shown):
    file = tmp_path / "events.csv"
    file.write_text(f"user,item\n1,10\n2,{value}\n")
    with pytest.raises(DataError, match=rf"item must be an integer.*row 2: {re.escape(shown)}"):
        load_custom(tmp_path, file)


def test_whole_float_ids_become_integers_and_the_log_says_so(tmp_path, logs):
    file = tmp_path / "events.parquet"
    pd.DataFrame({"user": [196.0, 7.0], "item": ["a", "b"]}).to_parquet(file)
    frame = load_custom(tmp_path, file)
    assert frame["user"].tolist() == [196, 7] and frame["user"].dtype == "int64"
    assert frame["item"].tolist() == ["a", "b"], "string ids stay as given"
    notes = [m for m in messages(logs, logging.INFO) if "stored as floats" in m]
    assert len(notes) == 1 and "user ids" in notes[0]


def test_string_ids_that_look_fractional_stay_strings(tmp_path):
    file = tmp_path / "events.csv"
    file.write_text("user,item\nanna,1.5\nbob,x\n")
    assert load_custom(tmp_path, file)["item"].tolist() == ["1.5", "x"]


# --------------------------------------------------------------------------- ratings


def test_negative_ratings_are_counted_shown_and_kept(tmp_path, logs):
    file = tmp_path / "events.csv"
    file.write_text("user,item,rating\na,x,4\nb,x,-1\nc,x,0\nd,x,-2.5\n")
    frame = load_custom(tmp_path, file)
    assert frame["rating"].tolist() == [4.0, -1.0, 0.0, -2.5]
    (warning,) = messages(logs, logging.WARNING)
    assert "2 of 4 ratings are negative (row 2: -1.0, row 4: -2.5)" in warning
    assert "rating_threshold" in warning


def test_ratings_off_a_known_scale_are_counted_and_shown(tmp_path, logs):
    file = tmp_path / "u.data"
    file.write_text("1\t2\t4\t100\n1\t3\t0\t100\n2\t2\t7\t100\n2\t3\t5\t100\n")
    frame = load_interactions("ml-100k", tmp_path, path=file)
    assert len(frame) == 4
    (warning,) = messages(logs, logging.WARNING)
    assert "2 of 4 ratings are outside this dataset's 1-5 (row 2: 0.0, row 3: 7.0)" in warning


def test_ratings_on_the_scale_or_non_negative_raise_no_warning(tmp_path, logs):
    (tmp_path / "u.data").write_text("1\t2\t1\t100\n1\t3\t5\t100\n")
    load_interactions("ml-100k", tmp_path, path=tmp_path / "u.data")
    (tmp_path / "events.csv").write_text("user,item,rating\na,x,0\nb,x,100\n")
    load_custom(tmp_path, tmp_path / "events.csv")
    assert messages(logs, logging.WARNING) == []


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_ratings_are_refused(tmp_path, value):
    file = tmp_path / "events.csv"
    file.write_text(f"user,item,rating\na,x,4\nb,x,{value}\n")
    with pytest.raises(DataError, match=r"rating must be a number.*1 row\(s\).*row 2"):
        load_custom(tmp_path, file)


# --------------------------------------------------------------------------- readers

EVENTS = pd.DataFrame({"user": ["a", "b"], "item": [10, 11], "rating": [4.0, 2.5]})


def test_tsv_is_read_with_tabs(tmp_path):
    file = tmp_path / "events.tsv"
    file.write_text("user\titem\trating\na\t10\t4\nb\t11\t2.5\n")
    pd.testing.assert_frame_equal(load_custom(tmp_path, file), EVENTS)


@pytest.mark.parametrize("name", ["events.csv.gz", "events.csv.bz2", "events.tsv.xz"])
def test_compressed_text_files_are_read_by_suffix(tmp_path, name):
    file = tmp_path / name
    EVENTS.to_csv(file, sep="\t" if ".tsv" in name else ",", index=False)
    assert not file.read_bytes().startswith(b"user"), "pandas compressed it by its suffix"
    pd.testing.assert_frame_equal(load_custom(tmp_path, file), EVENTS)


@pytest.mark.parametrize(("separator", "name"), [(";", "events.csv"), ("::", "events.tsv")])
def test_a_given_separator_replaces_the_suffixs_own(tmp_path, separator, name):
    file = tmp_path / name
    file.write_text(f"user{separator}item{separator}rating\na{separator}10{separator}4\n")
    frame = load_custom(tmp_path, file, separator=separator)
    assert frame.to_dict("records") == [{"user": "a", "item": 10, "rating": 4.0}]


def test_a_wrong_separator_is_suggested_as_the_cause(tmp_path):
    file = tmp_path / "events.csv"
    file.write_text("user;item\na;10\n")
    with pytest.raises(DataError, match="set `separator`"):
        load_custom(tmp_path, file)


def test_separator_is_refused_where_it_cannot_apply(tmp_path):
    parquet = tmp_path / "events.parquet"
    EVENTS.to_parquet(parquet)
    with pytest.raises(DataError, match="`separator` applies to CSV and TSV files"):
        load_custom(tmp_path, parquet, separator=";")
    with pytest.raises(DataError, match="only to dataset 'custom'"):
        load_interactions("ml-100k", tmp_path, path=tmp_path / "u.data", separator=";")


def test_an_unsupported_suffix_lists_the_readable_ones(tmp_path):
    file = tmp_path / "events.json.gz"
    file.write_text("{}")
    with pytest.raises(DataError) as error:
        load_custom(tmp_path, file)
    assert ".parquet, .csv or .tsv" in str(error.value) and ".gz" in str(error.value)
