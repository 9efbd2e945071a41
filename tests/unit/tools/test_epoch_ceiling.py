"""src/vaeops/tools/epoch_ceiling.py must keep the epoch the given-split benchmark keeps, or its
honest figure would not be the pipeline's."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.given_splits import write_lightgcn_split
from tests.helpers.settings import training_settings
from vaeops.data.settings import CarvedValidationParameters, GivenSplitDatasetParameters
from vaeops.data.splits import read_given_split
from vaeops.recommenders.benchmark import given_split_data
from vaeops.recommenders.training import train_autoencoder

ROOT = Path(__file__).parents[3]
GIVEN_SPLIT = yaml.safe_load((ROOT / "conf/base/parameters_benchmark_given_split.yml").read_text())[
    "benchmark_given_split"
]


def test_it_keeps_the_benchmarks_epoch_and_reports_the_best_test_epoch_beside_it(tmp_path):
    folder = tmp_path / "split"
    write_lightgcn_split(folder)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaeops.tools.epoch_ceiling",
            "--data-dir",
            str(folder),
            "--epochs",
            "12",
        ]
        + ["--patience", "3", "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    *curve, summary = (json.loads(line) for line in completed.stdout.splitlines())

    lightgcn = {"name": "lightgcn", "raw_dir": str(folder), "path": str(folder)}
    split = read_given_split(GivenSplitDatasetParameters.model_validate(lightgcn))
    carve = CarvedValidationParameters.model_validate(GIVEN_SPLIT["validation"])
    data = given_split_data(split.train, split.test_target, carve, False)
    pipeline = train_autoencoder(
        training_settings(
            epochs=12, anneal_cap=1.0, anneal_share=0.05, patience=3, validation_k=20, device="cpu"
        ),
        data.train,
        data.validation_fold_in,
        data.validation_target,
    )
    assert [r["epoch"] for r in curve] == list(range(1, pipeline.stopped_epoch + 1))
    assert summary["kept_on_validation"]["epoch"] == pipeline.best_epoch
    assert summary["kept_on_validation"]["validation_ndcg_at_20"] == pytest.approx(
        pipeline.best_validation_ndcg, abs=1e-5
    )
    assert summary["best_on_test"]["test_ndcg_at_20"] == max(r["test_ndcg_at_20"] for r in curve)
