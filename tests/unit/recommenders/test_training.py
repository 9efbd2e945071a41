"""Early stopping, β's schedule within a run, precision choice, RecVAE phases and resuming."""

import logging

import numpy as np
import pytest
import torch

from tests.helpers.settings import training_settings
from tests.unit.recommenders.test_models import small_problem
from vaeops.recommenders import precision
from vaeops.recommenders.checkpoint import Checkpointing
from vaeops.recommenders.precision import resolve_precision
from vaeops.recommenders.training import train_autoencoder

VAE = {"hidden_dims": [16], "latent_dim": 4}


def frozen(settings):
    """A learning rate of 0, which freezes the weights (no setting may hold it)."""
    return settings.model_copy(update={"learning_rate": 0.0})


def test_beta_reaches_its_cap_after_the_configured_share_of_the_run():
    train, fold_in, target = small_problem()  # 200 users: 4 updates an epoch at batch 50
    result = train_autoencoder(
        training_settings(
            VAE, epochs=6, batch_size=50, anneal_share=0.5, patience=None, device="cpu"
        ),
        train,
        fold_in,
        target,
    )
    # Cap at update 12 of 24; each record holds the beta of its epoch's last update.
    assert [round(r["beta"], 4) for r in result.history] == [0.05, 0.1167, 0.1833, 0.2, 0.2, 0.2]


def stopping_line(caplog) -> str:
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Stopping")]
    return line


def test_patience_counts_only_once_beta_is_at_its_cap(caplog):
    train, fold_in, target = small_problem()
    # A learning rate of 0 freezes the weights: validation NDCG never improves after epoch 1.
    config = frozen(
        training_settings(
            VAE,
            epochs=20,
            batch_size=50,
            anneal_share=0.25,
            patience=2,
            device="cpu",
        )
    )
    with caplog.at_level(logging.INFO, logger="vaeops.recommenders.training"):
        result = train_autoencoder(config, train, fold_in, target)
    # beta reaches its cap with the last update of epoch 5 (20 of 80 planned updates);
    # epochs 5 and 6 bring nothing better, so the run stops after epoch 6 and keeps epoch 1.
    assert result.stopped_epoch == 6 and len(result.history) == 6
    assert result.best_epoch == 1
    assert result.history[4]["beta"] == pytest.approx(0.19)  # the cap's last step: 19 of 20
    assert result.history[5]["beta"] == pytest.approx(0.2)
    # The log names the kept epoch and why patience started late.
    assert stopping_line(caplog) == (
        "Stopping after epoch 6, keeping epoch 1 (validation NDCG@100 "
        f"{result.best_validation_ndcg:.4f}): no better one in the 2 epochs since β reached "
        "its cap in epoch 5; patience counts from there"
    )


def test_patience_for_a_model_without_annealing_counts_from_the_start(caplog):
    train, fold_in, target = small_problem()
    dae = {"kind": "multdae", "hidden_dims": [], "latent_dim": 8}
    config = frozen(training_settings(dae, epochs=20, batch_size=50, patience=3, device="cpu"))
    with caplog.at_level(logging.INFO, logger="vaeops.recommenders.training"):
        result = train_autoencoder(config, train, fold_in, target)
    assert (result.best_epoch, result.stopped_epoch) == (1, 4)
    assert stopping_line(caplog) == (
        "Stopping after epoch 4, keeping epoch 1 (validation NDCG@100 "
        f"{result.best_validation_ndcg:.4f}): no better one in 3 epochs"
    )
    assert "beta" not in result.history[0]


def test_early_stopping_keeps_the_best_epoch_of_a_learning_model():
    train, fold_in, target = small_problem()
    config = training_settings(
        VAE,
        epochs=40,
        batch_size=50,
        learning_rate=0.03,
        anneal_share=0.1,
        patience=3,
        device="cpu",
    )
    result = train_autoencoder(config, train, fold_in, target)
    scores = [r["val_ndcg_at_100"] for r in result.history]
    assert result.best_epoch == int(np.argmax(scores)) + 1
    # beta is at its cap after epoch 4 (16 of 160 updates), so that epoch already counts:
    # the run stops 3 epochs after the later of its best epoch and epoch 3.
    assert result.stopped_epoch == max(result.best_epoch, 3) + 3 < 40


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"avx2", "fma"}, "fp32"), ({"avx2", "avx512_bf16"}, "bf16"), ({"amx_bf16"}, "bf16")],
)
def test_auto_precision_takes_bf16_only_where_the_cpu_computes_it(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: flags)
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"


def test_the_chosen_precision_is_reported(monkeypatch, caplog):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2"})
    train, fold_in, target = small_problem()
    with caplog.at_level(logging.INFO, logger="vaeops.recommenders.training"):
        result = train_autoencoder(
            training_settings(VAE, epochs=1, batch_size=50, device="cpu"), train, fold_in, target
        )
    assert result.precision == "fp32"
    assert "in fp32" in caplog.text


def test_recvae_trains_through_the_same_loop():
    train, fold_in, target = small_problem()
    recvae = {"kind": "recvae", "hidden_dims": [16], "latent_dim": 4}
    config = training_settings(
        recvae, epochs=4, batch_size=50, learning_rate=0.01, device="cpu", precision="fp32"
    )
    result = train_autoencoder(config, train, fold_in, target)
    assert all(np.isfinite(r["loss"]) for r in result.history)
    assert result.history[-1]["neg_log_likelihood"] < result.history[0]["neg_log_likelihood"]
    # The prior's encoder is refreshed after every encoder phase.
    for key, value in result.model.encoder.state_dict().items():
        if result.best_epoch == result.stopped_epoch:
            torch.testing.assert_close(value, result.model.previous_encoder.state_dict()[key])


class Killed(RuntimeError):
    pass


def kill_after(epoch):
    def callback(record):
        if record["epoch"] == epoch:
            raise Killed

    return callback


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(tmp_path):
    train, fold_in, target = small_problem()
    config = training_settings(
        VAE,
        epochs=6,
        batch_size=50,
        learning_rate=0.03,
        anneal_share=0.5,
        device="cpu",
        precision="fp32",
    )
    whole = train_autoencoder(config, train, fold_in, target)

    checkpoint = Checkpointing(tmp_path / "run.pt", every=2)
    with pytest.raises(Killed):
        train_autoencoder(config, train, fold_in, target, (kill_after(5),), checkpoint)
    replayed = []
    resumed = train_autoencoder(config, train, fold_in, target, (replayed.append,), checkpoint)
    assert [r["epoch"] for r in replayed] == [1, 2, 3, 4, 5, 6]  # the first four replayed
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    assert resumed.best_epoch == whole.best_epoch
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_changed_settings_start_afresh_and_say_which(tmp_path, caplog):
    train, fold_in, target = small_problem()
    checkpoint = Checkpointing(tmp_path / "run.pt", every=1)
    config = training_settings(VAE, epochs=2, batch_size=50, device="cpu", precision="fp32")
    train_autoencoder(config, train, fold_in, target, checkpointing=checkpoint)
    changed = config.model_copy(update={"learning_rate": 0.01})
    seen = []
    with caplog.at_level(logging.WARNING, logger="vaeops.recommenders.checkpoint"):
        train_autoencoder(changed, train, fold_in, target, (seen.append,), checkpoint)
    assert "learning_rate 0.001 -> 0.01" in caplog.text and "starting afresh" in caplog.text
    assert [r["epoch"] for r in seen] == [1, 2]


def test_a_checkpoint_is_replaced_atomically(tmp_path):
    train, fold_in, target = small_problem()
    checkpoint = Checkpointing(tmp_path / "run.pt", every=1)
    train_autoencoder(
        training_settings(VAE, epochs=2, batch_size=50, device="cpu"),
        train,
        fold_in,
        target,
        checkpointing=checkpoint,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary left behind
    saved = torch.load(tmp_path / "run.pt", weights_only=False)
    assert saved["loop"]["epochs_done"] == 2
    assert set(saved["loop"]) >= {"model", "optimizers", "shuffle", "torch_rng", "update_count"}
    assert saved["progress"]["best_state"] is not None


def test_a_run_resumed_after_it_stopped_early_trains_no_further(tmp_path):
    train, fold_in, target = small_problem()
    config = frozen(
        training_settings(VAE, epochs=20, batch_size=50, patience=2, anneal_share=0.0, device="cpu")
    )
    checkpoint = Checkpointing(tmp_path / "run.pt", every=100)  # written when it stops
    first = train_autoencoder(config, train, fold_in, target, checkpointing=checkpoint)
    again = train_autoencoder(config, train, fold_in, target, checkpointing=checkpoint)
    assert first.stopped_epoch == again.stopped_epoch == 3
    assert len(again.history) == 3
