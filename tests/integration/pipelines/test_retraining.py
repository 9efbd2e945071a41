"""`kedro run --pipeline retraining` on small data: champion, promotion rule, lock and kill."""

import json
import signal
import subprocess
import sys
import time

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.helpers.data_settings import preprocessing
from tests.helpers.mlflow_store import fresh_sqlite_store
from vaeops.data.settings import DatasetParameters
from vaeops.data.splits import liang_split
from vaeops.errors import DataError
from vaeops.recommenders.retraining import current_interactions

TINY_TRAINING = {
    "epochs": 2,
    "batch_size": 50,
    "learning_rate": 0.01,
    "validation_k": 10,
    "model": {"hidden_dims": [16], "latent_dim": 4},
}
COLUMNS = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": None}
MODEL = "vaeops-multvae-clicks"  # registry.model_name for clicks.csv


def write_clicks(path, users: range, seed: int, item_prefix: str | None = None):
    """Each user rates 8 items of one of two 20-item communities (ids 1000-1039, or
    ``item_prefix`` and the number) with 5 stars."""
    rng = np.random.default_rng(seed)
    items = np.concatenate(
        [rng.choice(20, 8, replace=False) + 20 * (user % 2) + 1000 for user in users]
    )
    if item_prefix is not None:
        items = [f"{item_prefix}{item}" for item in items]
    pd.DataFrame({"user_id": np.repeat(list(users), 8), "item_id": items, "rating": 5.0}).to_csv(
        path, index=False
    )
    return str(path)


@pytest.fixture
def store(kedro_project):
    fresh_sqlite_store(kedro_project / "mlflow.db")
    return mlflow.MlflowClient(f"sqlite:///{kedro_project / 'mlflow.db'}")


@pytest.fixture
def retrain(run_kedro, kedro_project):
    """Run the pipeline; return its decision, the last line of the retraining log."""

    def run(data: str, preprocessing: dict | None = None, **retraining) -> dict:
        dataset = {"name": "custom", "path": data, "columns": COLUMNS}
        try:
            run_kedro(
                "retraining",
                dataset=dataset,
                preprocessing=preprocessing or {},
                training=TINY_TRAINING,
                retraining=retraining,
            )
        finally:
            # kedro-mlflow (nested: True) re-enters its run before every node and ends
            # it once; a process that exits does not care, the next session here does.
            while mlflow.active_run():
                mlflow.end_run()
        return decisions(kedro_project)[-1]

    return run


def decisions(project) -> list[dict]:
    log = project / "data/08_reporting/retraining_log.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def aliases(client) -> dict[str, int]:
    model = client.get_registered_model(MODEL)
    return dict(model.aliases)


def n_versions(client) -> int:
    return len(client.search_model_versions(f"name = '{MODEL}'"))


def test_the_champion_changes_only_for_new_data_and_a_win(store, retrain, kedro_project, tmp_path):
    base = write_clicks(tmp_path / "clicks.csv", range(300), seed=0)

    first = retrain(base)
    assert first["outcome"] == "first_champion" and first["promoted"]
    assert aliases(store) == {"champion": 1, "challenger": 1}
    run = store.get_run(first["run_id"])
    assert run.data.tags["retraining.outcome"] == "first_champion"
    assert run.data.metrics["retraining/challenger_ndcg_at_100"] == pytest.approx(
        first["challenger_metric"]
    )
    assert "test/ndcg_at_100" in run.data.metrics
    assert store.get_model_version(MODEL, "1").run_id == first["run_id"]

    unchanged = retrain(base)
    assert unchanged["outcome"] == "no_new_data" and "version(s) 1" in unchanged["reason"]
    assert n_versions(store) == 1

    fewer = retrain(write_clicks(tmp_path / "clicks.csv", range(250), seed=0))
    assert fewer["outcome"] == "refused_fewer_users"
    assert (fewer["n_users"], fewer["champion_n_users"]) == (250, 300)
    assert n_versions(store) == 1
    assert write_clicks(tmp_path / "clicks.csv", range(300), seed=0) == base  # the same rows

    new_users = write_clicks(tmp_path / "new.csv", range(300, 360), seed=1)
    # Another split seed, so that some of the new test users trained the champion.
    won = retrain(
        base, preprocessing={"seed": 1}, extra_files=[new_users], promotion_probability=0.0
    )
    assert won["outcome"] == "promoted" and won["n_users"] == 360
    assert aliases(store) == {"champion": 2, "challenger": 2}
    assert won["n_comparison_users"] == n_fresh_test_users(
        old=[base], new=[base, new_users], new_seed=1
    )
    assert 0 < won["n_comparison_users"] < 36
    assert 0.0 <= won["p_challenger_better"] <= 1.0 and won["catalogue_overlap"] == 1.0
    run = store.get_run(won["run_id"])
    for role in ("champion", "challenger"):
        assert run.data.metrics[f"retraining/{role}_ndcg_at_100"] == pytest.approx(
            won[f"{role}_metric"]
        )
    assert run.data.metrics["retraining/p_challenger_better"] == won["p_challenger_better"]

    more_users = write_clicks(tmp_path / "more.csv", range(360, 420), seed=2)
    # NDCG differences never exceed 1, so with rope 1 no challenger is better.
    lost = retrain(base, extra_files=[new_users, more_users], rope=1.0)
    assert lost["outcome"] == "kept_champion" and not lost["promoted"]
    assert lost["champion_metric"] is not None and lost["p_challenger_better"] == 0.0
    assert aliases(store) == {"champion": 2, "challenger": 3}

    assert [d["outcome"] for d in decisions(kedro_project)] == [
        "first_champion",
        "no_new_data",
        "refused_fewer_users",
        "promoted",
        "kept_champion",
    ]


def test_a_deleted_champion_alias_means_a_fresh_registry_not_a_crash(
    store, retrain, tmp_path, caplog
):
    """The nightly run used to fail on `Registered model alias champion not found`."""
    base = write_clicks(tmp_path / "clicks.csv", range(300), seed=0)
    assert retrain(base)["outcome"] == "first_champion"
    store.delete_registered_model_alias(MODEL, "champion")

    with caplog.at_level("WARNING", logger="vaeops.adapters.mlflow.registry"):
        again = retrain(base)  # data version 1 saw: without a champion, the round still trains

    assert again["outcome"] == "first_champion" and again["promoted"]
    assert again["champion_version"] is None
    assert aliases(store) == {"champion": 2, "challenger": 2}
    assert f"No champion: {MODEL} has no alias 'champion'" in caplog.text


def test_a_challenger_of_other_data_or_item_ids_never_replaces_the_champion(
    store, retrain, kedro_project, tmp_path
):
    base = write_clicks(tmp_path / "clicks.csv", range(300), seed=0)
    assert retrain(base)["outcome"] == "first_champion"

    # More users and the same items, but another file of the same name, so the same
    # registered model: another data set.
    (tmp_path / "shop").mkdir()
    other_file = retrain(write_clicks(tmp_path / "shop" / "clicks.csv", range(400), seed=0))
    assert other_file["outcome"] == "incompatible" and not other_file["promoted"]
    assert f"custom data at {base}, the challenger on custom data at" in other_file["reason"]
    assert other_file["catalogue_overlap"] == 1.0

    # The champion's own file, rewritten with string item ids.
    string_ids = retrain(
        write_clicks(tmp_path / "clicks.csv", range(400), seed=0, item_prefix="sku-")
    )
    assert string_ids["outcome"] == "incompatible"
    for breach in (
        "the challenger's item ids are str, the champion's int",
        "requests would change from [history: Array(long)",
        "the challenger knows 0.0% of the champion's items",
    ):
        assert breach in string_ids["reason"]
    assert string_ids["champion_contract"]["item_id_type"] == "int"
    assert string_ids["challenger_contract"]["item_id_type"] == "str"

    assert aliases(store) == {"champion": 1, "challenger": 1}
    assert n_versions(store) == 1  # nothing trained or registered
    run = store.get_run(string_ids["run_id"])
    assert run.data.tags["retraining.outcome"] == "incompatible"
    assert run.data.tags["retraining.reason"] == string_ids["reason"]
    assert [d["outcome"] for d in decisions(kedro_project)] == [
        "first_champion",
        "incompatible",
        "incompatible",
    ]


def test_new_interactions_come_from_extra_files_with_the_standard_columns(ml100k_dir, tmp_path):
    columns = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
    dataset = DatasetParameters(
        name="ml-100k", path=str(ml100k_dir), raw_dir=str(tmp_path), columns=columns
    )
    extra = tmp_path / "new.csv"
    # User 196 rated item 242 with 3 stars in u.data; the new 5 stars win, user 5000 is new.
    pd.DataFrame(
        {"user": [196, 5000], "item": [242, 50], "rating": [5.0, 4.0], "timestamp": [9e8, 9e8]}
    ).to_csv(extra, index=False)
    interactions = current_interactions(dataset, [str(extra)])
    assert len(interactions) == 100_001
    pair = interactions[(interactions["user"] == 196) & (interactions["item"] == 242)]
    assert pair["rating"].tolist() == [5.0]

    pd.DataFrame({"user": ["anna"], "item": [50], "rating": [4.0], "timestamp": [9e8]}).to_csv(
        extra, index=False
    )
    with pytest.raises(DataError, match="user ids are .* but the dataset's are int64"):
        current_interactions(dataset, [str(extra)])


def n_fresh_test_users(old: list[str], new: list[str], new_seed: int) -> int:
    """Test users (with targets) of the new split who neither trained nor validated the old."""

    def interactions(files):
        frames = [pd.read_csv(file) for file in files]
        return pd.concat(frames).rename(columns={"user_id": "user", "item_id": "item"})

    old_split = liang_split(interactions(old), preprocessing())
    seen = set(old_split.user_map.loc[old_split.user_map["split"] != "test", "user"])
    new_split = liang_split(interactions(new), preprocessing(seed=new_seed))
    test = new_split.user_map[new_split.user_map["split"] == "test"].sort_values("row")
    has_targets = np.diff(new_split.test_target.indptr) > 0
    return sum(user not in seen for user in test["user"][has_targets])


def wait_for(condition, what: str, timeout_s: float = 180.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_an_overlapping_run_steps_aside_and_a_killed_run_changes_nothing(
    store, retrain, kedro_project, tmp_path
):
    data = write_clicks(tmp_path / "clicks.csv", range(300), seed=0)
    params = ",".join(
        [
            f"dataset.name=custom,dataset.path={data}",
            *(f"dataset.columns.{role}={name or 'null'}" for role, name in COLUMNS.items()),
            "training.epochs=100000,training.batch_size=50,training.validation_k=10",
            "training.model.hidden_dims=[16],training.model.latent_dim=4",
        ]
    )
    log = open(tmp_path / "long_run.log", "w")
    long_run = subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", "--pipeline", "retraining", "--params", params],
        cwd=kedro_project,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    lock_file = kedro_project / "data/06_models/retraining.lock"
    try:
        wait_for(
            lambda: lock_file.exists() and f"pid {long_run.pid}" in lock_file.read_text(),
            "the long run to take the lock",
        )
        overlapping = retrain(data)
        assert overlapping["outcome"] == "locked"
        assert f"pid {long_run.pid}" in overlapping["reason"]

        def long_run_has_trained_an_epoch() -> bool:
            running = store.search_runs(
                [store.get_experiment_by_name("vaeops").experiment_id],
                filter_string="attributes.status = 'RUNNING'",
            )
            return any(store.get_metric_history(run.info.run_id, "train/loss") for run in running)

        wait_for(long_run_has_trained_an_epoch, "the long run to be training")
    finally:
        long_run.send_signal(signal.SIGKILL)
        long_run.wait(timeout=30)
        log.close()

    assert store.search_registered_models() == []
    after = retrain(data)  # the dead run's lock file does not block
    assert after["outcome"] == "first_champion"
    assert aliases(store) == {"champion": 1, "challenger": 1}
