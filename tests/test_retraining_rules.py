"""Rules of scheduled retraining: data fingerprint, run lock, promotion rule."""

import math
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from vaeops.errors import DataError
from vaeops.recommenders.retraining import (
    RetrainingInProgress,
    challenger_wins,
    exclusive_lock,
    interactions_fingerprint,
    metric_depth,
)

INTERACTIONS = pd.DataFrame(
    {"user": [1, 1, 2, 3], "item": [10, 11, 10, 12], "rating": [5.0, 4.0, 3.0, 5.0]}
)


def test_the_fingerprint_names_the_rows_not_their_order():
    shuffled = INTERACTIONS.sample(frac=1.0, random_state=0).reset_index(drop=True)
    reordered_columns = INTERACTIONS[["rating", "item", "user"]]
    fingerprint = interactions_fingerprint(INTERACTIONS)
    assert interactions_fingerprint(shuffled) == fingerprint
    assert interactions_fingerprint(reordered_columns) == fingerprint
    assert len(fingerprint) == 64


def test_the_fingerprint_changes_with_any_new_or_changed_row():
    fingerprint = interactions_fingerprint(INTERACTIONS)
    appended = pd.concat([INTERACTIONS, pd.DataFrame({"user": [4], "item": [10], "rating": [4.0]})])
    rerated = INTERACTIONS.assign(rating=[5.0, 4.0, 3.0, 4.0])
    assert interactions_fingerprint(appended) != fingerprint
    assert interactions_fingerprint(rerated) != fingerprint
    assert interactions_fingerprint(INTERACTIONS.drop(columns="rating")) != fingerprint


def test_a_second_holder_of_the_lock_is_refused_with_the_first_ones_pid(tmp_path):
    lock_file = tmp_path / "models" / "retraining.lock"
    with exclusive_lock(lock_file):
        with pytest.raises(RetrainingInProgress, match=r"in progress \(pid \d+ since"):
            with exclusive_lock(lock_file):
                pass
    with exclusive_lock(lock_file):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    lock_file = tmp_path / "retraining.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from vaeops.recommenders.retraining import exclusive_lock
                with exclusive_lock({str(lock_file)!r}):
                    print("locked", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RetrainingInProgress, match=f"pid {holder.pid}"):
            with exclusive_lock(lock_file):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert lock_file.exists()  # the file stays behind, the lock does not
    with exclusive_lock(lock_file):
        pass


def test_promotion_needs_a_win_by_more_than_the_margin():
    assert challenger_wins(champion_score=0.40, challenger_score=0.42, margin=0.01)
    assert not challenger_wins(champion_score=0.40, challenger_score=0.405, margin=0.01)
    assert not challenger_wins(champion_score=0.40, challenger_score=0.41, margin=0.01 + 1e-12)
    assert not challenger_wins(champion_score=0.40, challenger_score=math.nan, margin=-1.0)
    assert challenger_wins(champion_score=0.40, challenger_score=0.0, margin=-1.0)


def test_only_ranking_metrics_with_a_depth_can_decide():
    assert metric_depth("ndcg_at_100") == 100
    assert metric_depth("recall_at_20") == 20
    for bad in ("ndcg", "ndcg_at_0", "precision_at_10", "NDCG@100"):
        with pytest.raises(DataError, match="ndcg_at_K or recall_at_K"):
            metric_depth(bad)
