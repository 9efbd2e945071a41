import json
import subprocess
import sys

import pytest

from vaeops.speed.training import model_flops_per_user
from vaeops.recommenders.models import ModelConfig

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
            "vaeops.speed.training",
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


def test_flop_count_of_the_paper_architecture():
    forward, train = model_flops_per_user(ModelConfig(kind="multvae", n_items=1000), mean_nnz=10)
    dense = 600 * 400 + 200 * 600 + 600 * 1000
    assert forward == 2 * dense + 2 * 10 * 600
    assert train == 6 * dense + 4 * 10 * 600


def test_missing_gowalla_files_give_a_clear_message(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "vaeops.speed.training", "--data", "gowalla", "--data-dir", str(tmp_path)],
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
        [sys.executable, "-m", "vaeops.speed.training", *argv], capture_output=True, text=True
    )
    assert completed.returncode == 2
