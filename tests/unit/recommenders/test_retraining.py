"""Rules of scheduled retraining: data fingerprint, run lock, outcomes, fair comparison."""

import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.helpers.settings import model_settings, serving_block
from vaeops.errors import DataError
from vaeops.recommenders.models import build_model
from vaeops.recommenders.retraining import (
    RetrainingFacts,
    RetrainingInProgress,
    ServingContract,
    catalogue_overlap,
    comparison_scores,
    contract_breaches,
    decision_metrics,
    decision_record,
    exclusive_lock,
    held_out_histories,
    interactions_fingerprint,
    item_id_type,
    metric_depth,
    retraining_outcome,
)
from vaeops.recommenders.serving import Recommender

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
        with pytest.raises(RetrainingInProgress, match=r"in progress \(pid \d+ on \S+ since"):
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


def test_only_ranking_metrics_with_a_depth_can_decide():
    assert metric_depth("ndcg_at_100") == 100
    assert metric_depth("recall_at_20") == 20
    for bad in ("ndcg", "ndcg_at_0", "precision_at_10", "NDCG@100"):
        with pytest.raises(DataError, match="ndcg_at_K or recall_at_K"):
            metric_depth(bad)


def test_the_lock_file_names_its_holder_only_while_held(tmp_path):
    lock_file = tmp_path / "retraining.lock"
    with exclusive_lock(lock_file):
        assert lock_file.read_text().startswith(
            f"pid {os.getpid()} on {socket.gethostname()} since "
        )
    assert lock_file.read_text() == ""


RULES = RetrainingFacts(
    metric="ndcg_at_100", rope=0.01, promotion_probability=0.95, min_catalogue_overlap=0.9
)
ML_100K = ServingContract(
    dataset="ml-100k",
    dataset_path=None,
    item_id_type="int",
    request_fields=("history: Array(long)", "k: Any (optional)"),
    answer_fields=("items: Array(long)", "fallback: boolean"),
)
# A champion exists, the data are new and bigger and serve the same clients, a
# challenger was trained and scored.
COMPARED = replace(
    RULES,
    champion_version="1",
    champion_n_users=300,
    n_users=360,
    champion_contract=ML_100K,
    challenger_contract=ML_100K,
    catalogue_overlap=1.0,
    challenger_version="2",
    n_comparison_users=20,
    champion_metric=0.40,
    challenger_metric=0.42,
    p_challenger_better=0.97,
)


@pytest.mark.parametrize(
    ("facts", "outcome", "reason"),
    [
        (
            replace(COMPARED, lock_refusal="another retraining run is in progress (pid 7)"),
            "locked",
            r"pid 7",
        ),
        (
            replace(COMPARED, versions_on_same_data=("3", "1")),
            "no_new_data",
            r"version\(s\) 1, 3 were trained on these exact interactions",
        ),
        (replace(COMPARED, n_users=250), "refused_fewer_users", r"250 users .* trained on 300"),
        (
            replace(COMPARED, champion_version=None, champion_n_users=None),
            "first_champion",
            r"version 2 becomes champion",
        ),
        (
            replace(
                COMPARED, champion_version=None, champion_n_users=None, versions_on_same_data=("1",)
            ),
            "first_champion",  # the champion alias was deleted: data seen before still count
            r"version 2 becomes champion",
        ),
        (
            replace(COMPARED, champion_version=None, challenger_metric=math.nan),
            "first_model_invalid",
            r"ndcg_at_100 is not finite",
        ),
        (
            COMPARED,
            "promoted",
            r"P\(challenger better\) = 0\.970 \(ROPE \+-0\.01; ndcg_at_100 0\.4200 vs "
            r"champion 0\.4000\) on 20 fresh held-out users, at least 0\.95",
        ),
        (
            replace(COMPARED, p_challenger_better=0.6),
            "kept_champion",
            r"0\.600 .* below 0\.95: champion version 1 kept",
        ),
        (
            replace(COMPARED, n_comparison_users=1, p_challenger_better=None),
            "kept_champion",
            r"1 held-out user\(s\) .* are fresh .* at least 2",
        ),
        (
            replace(
                COMPARED,
                challenger_contract=replace(ML_100K, dataset="custom", dataset_path="shop.csv"),
            ),
            "incompatible",
            r"cannot replace champion version 1: the champion was trained on ml-100k, the "
            r"challenger on custom data at shop\.csv\. Champion kept",
        ),
        (
            replace(COMPARED, catalogue_overlap=0.5, n_users=250),  # before the user count
            "incompatible",
            r"knows 50\.0% of the champion's items, less than .*=0\.9",
        ),
    ],
)
def test_each_outcome_follows_from_the_facts(facts, outcome, reason):
    decided = retraining_outcome(facts)
    assert decided.name == outcome
    assert re.search(reason, decided.reason)
    assert decided.promoted == (outcome in ("first_champion", "promoted"))


def test_flags_lift_the_data_rules_and_unmeasured_facts_decide_nothing():
    assert retraining_outcome(replace(COMPARED, versions_on_same_data=("1",), force=True)).name == (
        "promoted"
    )
    shrunk = replace(COMPARED, n_users=250, allow_fewer_users=True)
    assert retraining_outcome(shrunk).name == "promoted"
    assert retraining_outcome(replace(RULES, versions_on_same_data=())) is None  # split next
    not_trained = replace(COMPARED, challenger_version=None)
    assert retraining_outcome(not_trained) is None  # train a challenger next


def test_the_decision_metrics_hold_what_was_measured():
    compared = replace(COMPARED, test_metrics={"test/ndcg_at_100": 0.41})
    assert decision_metrics(compared, retraining_outcome(compared)) == {
        "retraining/promoted": 1.0,
        "retraining/champion_ndcg_at_100": 0.40,
        "retraining/challenger_ndcg_at_100": 0.42,
        "retraining/n_comparison_users": 20,
        "retraining/p_challenger_better": 0.97,
        "retraining/catalogue_overlap": 1.0,
        "test/ndcg_at_100": 0.41,
    }
    locked = replace(RULES, lock_refusal="busy")
    assert decision_metrics(locked, retraining_outcome(locked)) == {"retraining/promoted": 0.0}


def test_the_log_line_holds_the_run_the_facts_and_the_outcome():
    record = decision_record(COMPARED, retraining_outcome(COMPARED), run_id="abc")
    assert record["run_id"] == "abc"
    assert record["champion_metric"] == 0.40 and record["n_users"] == 360
    assert (record["outcome"], record["promoted"]) == ("promoted", True)
    assert record["reason"] == retraining_outcome(COMPARED).reason


def test_held_out_histories_speak_original_ids_and_skip_users_without_targets():
    fold_in = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 0], [0, 1, 1]], dtype=np.float32))
    users = pd.DataFrame({"user": ["cleo", "anna", "bob"], "split": "test", "row": [2, 0, 1]})
    split = SimpleNamespace(user_map=users, test_fold_in=fold_in, test_target=target)
    frame = held_out_histories(split, np.array([10, 20, 30]))
    assert frame["user"].tolist() == ["anna", "cleo"]
    assert [ids.tolist() for ids in frame["fold_in"]] == [[10], [10]]
    assert [ids.tolist() for ids in frame["target"]] == [[20], [20, 30]]


HELD_OUT = pd.DataFrame(
    {
        "user": ["anna", "bob", "cleo"],
        "fold_in": [[100], [101], [100]],
        "target": [[102], [102], [103]],
    }
)


def test_only_users_the_champion_never_trained_or_validated_on_are_compared():
    champion = popularity_recommender([0, 1, 0])  # ranks 103 first
    challenger = popularity_recommender([1, 0, 0])  # ranks 102 first
    # cleo validated the champion (early stopping chose its epoch on her): she would flatter it.
    fresh = comparison_scores(HELD_OUT, "ndcg_at_1", 0.01, challenger, champion, ["cleo", "dan"])
    assert fresh == {
        "n_comparison_users": 2,
        "champion_metric": 0.0,
        "challenger_metric": 1.0,
        "p_challenger_better": 1.0,  # better on every fresh user
    }
    one_fresh = comparison_scores(
        HELD_OUT, "ndcg_at_1", 0.01, challenger, champion, ["bob", "cleo"]
    )
    assert one_fresh["n_comparison_users"] == 1 and one_fresh["p_challenger_better"] is None
    none_fresh = comparison_scores(
        HELD_OUT, "ndcg_at_1", 0.01, challenger, champion, ["anna", "bob", "cleo"]
    )
    assert none_fresh == {
        "n_comparison_users": 0,
        "champion_metric": None,
        "challenger_metric": None,
        "p_challenger_better": None,
    }
    first = comparison_scores(HELD_OUT, "ndcg_at_1", 0.01, challenger)
    assert first == {
        "n_comparison_users": 3,
        "champion_metric": None,
        "challenger_metric": pytest.approx(2 / 3),
        "p_challenger_better": None,
    }


def test_a_dominating_challenger_is_promoted_and_a_tied_one_is_not():
    champion = popularity_recommender([0, 1, 0])
    held_out = HELD_OUT.iloc[:2]  # both target 102, which only the challenger ranks first
    for challenger, promoted in (
        (popularity_recommender([1, 0, 0]), True),
        (popularity_recommender([0, 1, 0]), False),  # the champion's twin: P(better) = 0
    ):
        scores = comparison_scores(held_out, "ndcg_at_1", RULES.rope, challenger, champion)
        facts = replace(COMPARED, **scores)
        assert facts.p_challenger_better == (1.0 if promoted else 0.0)
        assert retraining_outcome(facts).promoted is promoted


def popularity_recommender(popularity: list[float]) -> Recommender:
    """Items 102-104, none of them in a fold-in above, so every answer is by ``popularity``."""
    model = build_model(model_settings("multdae", hidden_dims=[], latent_dim=2), 3)
    return Recommender(model, [102, 103, 104], np.array(popularity, dtype=float), **serving_block())


def test_a_challenger_must_keep_the_champions_data_ids_requests_and_answers():
    same = contract_breaches(ML_100K, ML_100K, overlap=0.95, min_overlap=0.9)
    assert same == []
    more_answers = replace(ML_100K, answer_fields=(*ML_100K.answer_fields, "reason: string"))
    assert contract_breaches(ML_100K, more_answers, overlap=1.0, min_overlap=0.9) == []

    string_ids = replace(
        ML_100K,
        item_id_type="str",
        request_fields=("history: Array(string)", "k: Any (optional)"),
        answer_fields=("items: Array(string)", "fallback: boolean"),
    )
    assert contract_breaches(ML_100K, string_ids, overlap=0.0, min_overlap=0.9) == [
        "the challenger's item ids are str, the champion's int",
        "requests would change from [history: Array(long), k: Any (optional)] to "
        "[history: Array(string), k: Any (optional)]",
        "answers would lose or change [items: Array(long)]",
        "the challenger knows 0.0% of the champion's items, less than "
        "retraining.min_catalogue_overlap=0.9",
    ]
    moved = replace(ML_100K, dataset="custom", dataset_path="clicks.csv")
    other_file = replace(moved, dataset_path="other.csv")
    assert contract_breaches(moved, other_file, overlap=1.0, min_overlap=0.9) == [
        "the champion was trained on custom data at clicks.csv, the challenger on custom "
        "data at other.csv"
    ]


def test_the_catalogue_overlap_is_the_share_of_the_champions_items_the_challenger_knows():
    assert catalogue_overlap([1, 2, 3, 4], [2, 3, 4, 5, 6, 7]) == 0.75
    assert catalogue_overlap([1, 2], ["1", "2"]) == 0.0  # ids of another type are other items
    assert (item_id_type(np.array([50, 172])), item_id_type(pd.Series(["sku-1"]))) == ("int", "str")
