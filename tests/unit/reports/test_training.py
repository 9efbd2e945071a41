"""The training curves of every model kind: a Mult-VAE's β beside its KL, none otherwise."""

import pandas as pd

from vaeops.reports.training import training_curves

HISTORY = pd.DataFrame(
    {
        "epoch": [1, 2, 3],
        "loss": [9.0, 8.0, 7.5],
        "neg_log_likelihood": [8.9, 7.9, 7.3],
        "kl": [0.5, 0.6, 0.7],
        "val_ndcg_at_100": [0.30, 0.35, 0.34],
    }
)


def panel_titles(figure) -> list[str]:
    return [axis.get_title() for axis in figure.axes if axis.get_title()]


def test_a_mult_vae_shows_beta_beside_its_kl_and_the_kept_epoch():
    figure = training_curves(HISTORY.assign(beta=[0.0, 0.1, 0.2]))
    assert panel_titles(figure) == ["training loss", "KL and its weight β", "val ndcg at 100"]
    kept = figure.axes[2].lines[-1]
    assert list(kept.get_xdata()) == [2, 2], "the best validation epoch is marked"


def test_a_model_without_annealing_draws_its_curves_without_beta():
    figure = training_curves(HISTORY)  # a Mult-DAE's or RecVAE's history has no beta
    assert panel_titles(figure) == ["training loss", "KL", "val ndcg at 100"]
    assert len(figure.axes) == 3, "no β axis"
