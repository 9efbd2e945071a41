import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.helpers.settings import model_settings, training_settings
from vaeops.recommenders.training import train_autoencoder
from vaeops.tools.speed_training import gowalla, model_flops_per_user, synthetic

EXPECTED_FIELDS = {
    "device",
    "torch",
    "precision",
    "batch_size",
    "train_users_per_second",
    "seconds_per_epoch",
    "eval_users_per_second",
    "peak_memory_mb",
    "train_tflops",
    "device_matmul_tflops",
    "fraction_of_matmul_peak",
    "eval_metrics",
}


def test_harness_prints_one_json_line_with_throughput_fields():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaeops.tools.speed_training",
            "--synthetic",
            "tiny",
            "--device",
            "cpu",
            "--epochs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert EXPECTED_FIELDS <= set(result)
    assert result["users"] == 2000 and result["items"] == 500
    assert len(result["epoch_seconds"]) == 2
    assert result["train_users_per_second"] > 0 and result["eval_users_per_second"] > 0
    assert 0 < result["eval_metrics"]["ndcg_at_100"] <= 1


def test_bench_trains_with_the_trainers_own_loop(tmp_path):
    weights = tmp_path / "bench.pt"
    argv = ["--synthetic", "tiny", "--device", "cpu", "--epochs", "2", "--seed", "3"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vaeops.tools.speed_training",
            *argv,
            "--save-weights",
            str(weights),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    train, _, _ = synthetic("tiny", seed=3)
    config = training_settings(epochs=2, batch_size=500, seed=3, device="cpu", precision="fp32")
    trained = train_autoencoder(config, train, None, None)
    saved = torch.load(weights)["state_dict"]
    for name, value in trained.model.state_dict().items():
        torch.testing.assert_close(saved[name], value)


def test_gowalla_reads_the_lightgcn_files_into_train_and_test_matrices(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n1 0\n")
    (tmp_path / "test.txt").write_text("0 3\n2 1\n")
    train, fold_in, target = gowalla(tmp_path)
    np.testing.assert_array_equal(train.toarray(), [[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert fold_in is train
    np.testing.assert_array_equal(target.toarray(), [[0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]])


def test_flop_count_of_the_paper_architecture():
    forward, train = model_flops_per_user(model_settings(), 1000, mean_nnz=10)
    dense = 600 * 400 + 200 * 600 + 600 * 1000
    assert forward == 2 * dense + 2 * 10 * 600
    assert train == 6 * dense + 4 * 10 * 600


def test_missing_gowalla_files_give_a_clear_message(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaeops.tools.speed_training",
            "--data",
            "gowalla",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode != 0
    assert "train.txt" in completed.stderr


@pytest.mark.parametrize(
    "argv",
    [["--epochs", "0", "--synthetic", "tiny"], ["--synthetic", "tiny", "--precision", "fp8"]],
)
def test_bad_arguments_are_refused(argv):
    completed = subprocess.run(
        [sys.executable, "-m", "vaeops.tools.speed_training", *argv], capture_output=True, text=True
    )
    assert completed.returncode == 2
