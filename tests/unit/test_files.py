"""Checkpoints and model files: nothing in them runs, a damaged one does not block
training, a full disk keeps the previous file, and one training holds a checkpoint."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
import torch

from tests.helpers.settings import training_settings
from tests.helpers.small_filesystem import python_with_small_filesystem
from tests.unit.recommenders.test_models import small_problem
from tests.unit.recommenders.test_training import VAE
from vaeops.adapters.kedro.checkpoints import CheckpointClaim, CheckpointInUse
from vaeops.adapters.kedro.datasets import AtomicDataset, TorchWeightsDataset
from vaeops.files import torch_save_atomically
from vaeops.recommenders.checkpoint import Checkpointing
from vaeops.recommenders.training import train_autoencoder

CONFIG = training_settings(VAE, epochs=2, batch_size=50, device="cpu", precision="fp32")


class RunsCode:
    """Pickles as a call of os.system, as a planted checkpoint would."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def train_with_checkpoint(path, caplog) -> list[int]:
    seen = []
    with caplog.at_level(logging.WARNING, logger="vaeops.recommenders.checkpoint"):
        train_autoencoder(CONFIG, *small_problem(), (seen.append,), Checkpointing(path, every=1))
    return [record["epoch"] for record in seen]


def test_a_checkpoint_whose_pickle_calls_code_runs_nothing_and_is_moved_aside(tmp_path, caplog):
    marker, checkpoint = tmp_path / "pwned", tmp_path / "run.pt"
    torch.save({"fingerprint": RunsCode(f"touch {marker}"), "loop": {}, "progress": {}}, checkpoint)
    unsafe = f"import torch; torch.load({str(checkpoint)!r}, weights_only=False)"
    subprocess.run([sys.executable, "-c", unsafe], capture_output=True, timeout=60)
    assert marker.exists(), "the planted checkpoint should run code when unpickled unsafely"
    marker.unlink()

    epochs = train_with_checkpoint(checkpoint, caplog)

    assert not marker.exists()
    assert epochs == [1, 2]  # trained afresh
    (aside,) = tmp_path.glob("run.pt.corrupt-*")
    assert f"Checkpoint {checkpoint} could not be read" in caplog.text
    assert f"moved it to {aside}" in caplog.text and "starting afresh" in caplog.text


def truncated(path):
    torch.save({"w": torch.randn(200, 200)}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    "damage",
    [
        truncated,
        lambda path: path.write_bytes(os.urandom(4096)),
        lambda path: path.write_bytes(b""),
        lambda path: torch.save({"w": torch.ones(3)}, path),  # a torch file, not a checkpoint
        lambda path: torch.save({"fingerprint": {}, "loop": {}, "progress": {}}, path),
    ],
    ids=["truncated", "random", "empty", "foreign", "malformed"],
)
def test_an_unreadable_checkpoint_is_moved_aside_named_and_training_starts_afresh(
    tmp_path, caplog, damage
):
    checkpoint = tmp_path / "run.pt"
    damage(checkpoint)
    damaged = checkpoint.read_bytes()

    epochs = train_with_checkpoint(checkpoint, caplog)

    assert epochs == [1, 2]
    (aside,) = tmp_path.glob("run.pt.corrupt-*")
    assert aside.read_bytes() == damaged
    assert f"Checkpoint {checkpoint} could not be read" in caplog.text
    # The run wrote a good checkpoint in its place, which loads as tensors only.
    assert torch.load(checkpoint, weights_only=True)["loop"]["epochs_done"] == 2


FULL_DISK_CHECKPOINT = """
import torch
from tests.unit.recommenders.test_models import small_problem
from tests.helpers.settings import model_settings, training_settings
from tests.unit.recommenders.test_training import VAE
from vaeops.files import NoSpaceLeft
from vaeops.recommenders.checkpoint import Checkpointing
from vaeops.recommenders.training import train_autoencoder

CONFIG = training_settings(VAE, epochs=2, batch_size=50, device="cpu", precision="fp32")

checkpoint = Checkpointing(FOLDER / "run.pt", every=1)
train_autoencoder(CONFIG, *small_problem(), checkpointing=checkpoint)
before = checkpoint.path.read_bytes()
wide = CONFIG.model_copy(update={"model": model_settings(hidden_dims=[4000], latent_dim=64)})
try:
    train_autoencoder(wide, *small_problem(), checkpointing=checkpoint)
except NoSpaceLeft as error:
    print("error:", error)
print("intact:", checkpoint.path.read_bytes() == before)
print("files:", sorted(p.name for p in FOLDER.iterdir()))
"""


def test_a_full_disk_keeps_the_previous_checkpoint_removes_the_temporary_and_says_so(tmp_path):
    folder = tmp_path / "small"
    output = python_with_small_filesystem(folder, "512k", FULL_DISK_CHECKPOINT)
    assert f"error: [Errno 28] no space left on {folder} while writing run.pt" in output
    assert "intact: True" in output
    assert "files: ['run.pt']" in output


FULL_DISK_MODEL_FILES = """
import torch
from kedro.io import DatasetError
from vaeops.adapters.kedro.datasets import AtomicDataset, TorchWeightsDataset

weights = TorchWeightsDataset(filepath=str(FOLDER / "model_weights.pt"))
weights.save({"w": torch.ones(10)})
config = AtomicDataset(dataset="json.JSONDataset", filepath=str(FOLDER / "model_config.json"))
config.save({"kind": "multvae"})
for dataset, larger in ((weights, {"w": torch.ones(200_000)}), (config, {"kind": "x" * 400_000})):
    try:
        dataset.save(larger)
    except DatasetError as error:
        print("error:", " ".join(str(error).split()))
print("weights intact:", torch.equal(weights.load()["w"], torch.ones(10)))
print("config intact:", config.load() == {"kind": "multvae"})
print("files:", sorted(p.name for p in FOLDER.iterdir()))
"""


def test_a_full_disk_keeps_the_previous_weights_and_model_config(tmp_path):
    folder = tmp_path / "small"
    output = python_with_small_filesystem(folder, "256k", FULL_DISK_MODEL_FILES)
    for name in ("model_weights.pt", "model_config.json"):
        assert f"no space left on {folder} while writing {name}" in output
    assert "weights intact: True" in output and "config intact: True" in output
    assert "files: ['model_config.json', 'model_weights.pt']" in output


def test_model_files_are_written_whole_and_read_back(tmp_path):
    weights = TorchWeightsDataset(filepath=str(tmp_path / "w.pt"))
    weights.save({"w": torch.arange(3.0, requires_grad=True) * 2})
    assert torch.equal(weights.load()["w"], torch.tensor([0.0, 2.0, 4.0]))
    config = AtomicDataset(dataset={"type": "json.JSONDataset"}, filepath=str(tmp_path / "c.json"))
    config.save({"kind": "recvae", "latent_dim": 200})
    assert json.loads((tmp_path / "c.json").read_text()) == {"kind": "recvae", "latent_dim": 200}
    assert config.load() == {"kind": "recvae", "latent_dim": 200}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "w.pt"]


def test_a_failed_write_that_is_not_a_full_disk_is_raised_as_it_is(tmp_path):
    with pytest.raises(AttributeError, match="Can't pickle"):
        torch_save_atomically({"not picklable": lambda: None}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


HOLD_CHECKPOINT = """
import sys, time
from pathlib import Path
from vaeops.adapters.kedro.checkpoints import CheckpointClaim
claim = CheckpointClaim.take(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_training_on_a_checkpoint_in_use_is_refused_naming_the_holder(tmp_path):
    checkpoint = tmp_path / "training.pt"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_CHECKPOINT, str(checkpoint)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(CheckpointInUse) as refused:
            CheckpointClaim.take(checkpoint)
        message = refused.value.format_message()
        assert f"the checkpoint {checkpoint} belongs to a training run in progress" in message
        assert f"(pid {holder.pid} on {socket.gethostname()} since " in message
        assert "--params checkpoint.dir=" in message
    finally:
        holder.kill()
        holder.wait()
    CheckpointClaim.take(checkpoint).release()  # the lock died with its holder


def test_a_process_takes_a_checkpoint_once_however_often_it_asks(tmp_path):
    """A notebook that trains twice, or a pipeline whose hook claimed the file before
    its node trains, never refuses itself."""
    checkpoint = tmp_path / "training.pt"
    first = CheckpointClaim.take(checkpoint)
    assert CheckpointClaim.take(checkpoint) is first
    first.release()
    again = CheckpointClaim.take(checkpoint)
    assert again is not first
    again.release()
