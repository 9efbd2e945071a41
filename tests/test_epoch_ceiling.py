"""experiments/epoch_ceiling.py must keep the epoch the given-split benchmark keeps, or its
honest figure would not be the pipeline's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vaeops.recommenders.benchmark import given_split_data, read_given_split
from vaeops.recommenders.models import ModelConfig
from vaeops.recommenders.training import TrainingConfig, train_autoencoder

SCRIPT = Path(__file__).parents[1] / "experiments" / "epoch_ceiling.py"


def _write_lightgcn_folder(folder: Path) -> None:
    rng = np.random.default_rng(3)
    train_lines, test_lines = [], []
    for user in range(80):
        items = rng.choice(100, size=rng.integers(6, 16), replace=False)
        cut = int(0.8 * items.size)
        train_lines.append(" ".join(map(str, [user, *items[:cut]])))
        test_lines.append(" ".join(map(str, [user, *items[cut:]])))
    (folder / "train.txt").write_text("\n".join(train_lines) + "\n")
    (folder / "test.txt").write_text("\n".join(test_lines) + "\n")


def test_it_keeps_the_benchmarks_epoch_and_reports_the_best_test_epoch_beside_it(tmp_path):
    _write_lightgcn_folder(tmp_path)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--data-dir", str(tmp_path), "--epochs", "12"]
        + ["--patience", "3", "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    *curve, summary = (json.loads(line) for line in completed.stdout.splitlines())

    split = read_given_split({"name": "lightgcn", "raw_dir": tmp_path, "path": tmp_path})
    data = given_split_data(
        split.train, split.test_target, {"share": 0.2, "max_users": 5000, "seed": 98765}, False
    )
    pipeline = train_autoencoder(
        ModelConfig(kind="multvae", n_items=split.train.shape[1]),
        data.train,
        data.validation_fold_in,
        data.validation_target,
        TrainingConfig(
            epochs=12, anneal_cap=1.0, anneal_share=0.05, patience=3, validation_k=20, device="cpu"
        ),
    )
    assert [r["epoch"] for r in curve] == list(range(1, pipeline.stopped_epoch + 1))
    assert summary["kept_on_validation"]["epoch"] == pipeline.best_epoch
    assert summary["kept_on_validation"]["validation_ndcg_at_20"] == pytest.approx(
        pipeline.best_validation_ndcg, abs=1e-5
    )
    assert summary["best_on_test"]["test_ndcg_at_20"] == max(r["test_ndcg_at_20"] for r in curve)
