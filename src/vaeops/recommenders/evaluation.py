"""A trained autoencoder scored beside the popularity floor, on the same test users.

Popularity is the floor any personalised recommender has to clear, so every
evaluation of a trained model (the training pipeline's, each retraining
challenger's) scores both with the same code and reports them side by side.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from vaeops.data.sparse import resolve_device
from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.metrics import Evaluation, evaluate, scipy_scorer
from vaeops.recommenders.models import load_model
from vaeops.recommenders.settings import EvaluationParameters


def evaluate_beside_popularity(
    weights: dict[str, torch.Tensor],
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    evaluation: EvaluationParameters,
) -> dict[str, Evaluation]:
    """The model (named by its kind) and popularity fitted on ``train``, scored on the same
    users with ``evaluation`` (ks, batch_size, device)."""
    device = resolve_device(evaluation.device)
    model = load_model(model_config, weights, device)
    settings = {"ks": evaluation.ks, "batch_size": evaluation.batch_size, "device": device}
    with torch.no_grad():
        return {
            model_config["kind"]: evaluate(model.score, test_fold_in, test_target, **settings),
            "popularity": evaluate(
                scipy_scorer(Popularity().fit(train)), test_fold_in, test_target, **settings
            ),
        }


def summaries(results: Mapping[str, Evaluation]) -> dict[str, dict[str, float]]:
    """Each model's mean of every per-user metric."""
    return {name: result.summary() for name, result in results.items()}


def named_metrics(summaries: Mapping[str, Mapping[str, float]], headline: str) -> dict[str, float]:
    """``test/<metric>`` for the ``headline`` model and ``<name>/<metric>`` for the others:
    the names of a run's MLflow metrics and of a registered version's tags."""
    return {
        f"{'test' if name == headline else name}/{metric}": value
        for name, summary in summaries.items()
        for metric, value in summary.items()
    }


def report(results: Mapping[str, Evaluation], n_test_users: int) -> dict:
    any_result = next(iter(results.values()))
    return {
        "n_test_users": n_test_users,
        "n_evaluated_users": int(any_result.rows.size),
        "n_users_without_targets": any_result.n_users_without_targets,
        "models": summaries(results),
    }


def per_user_frame(results: Mapping[str, Evaluation], test_users: np.ndarray) -> pd.DataFrame:
    """One row per model and evaluated user: the user's original id and every metric.

    ``test_users[r]`` is the original id of row ``r`` of the test matrices.
    """
    frames = []
    for name, result in results.items():
        frame = pd.DataFrame(result.per_user)
        frame.insert(0, "user", test_users[result.rows])
        frame.insert(0, "model", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
