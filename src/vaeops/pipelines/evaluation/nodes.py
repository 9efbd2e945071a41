import pandas as pd
import scipy.sparse as sp
import torch

from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.metrics import Evaluation, evaluate, scipy_scorer
from vaeops.recommenders.models import build_model
from vaeops.data.sparse import resolve_device


def evaluate_on_test(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    user_map: pd.DataFrame,
    evaluation: dict,
) -> dict:
    device = resolve_device(evaluation["device"])
    model = build_model(model_config)
    model.load_state_dict(weights)
    model.to(device).eval()
    settings = {"ks": evaluation["ks"], "batch_size": evaluation["batch_size"], "device": device}
    with torch.no_grad():
        results = {
            model_config["kind"]: evaluate(model.score, test_fold_in, test_target, **settings),
            "popularity": evaluate(
                scipy_scorer(Popularity().fit(train)), test_fold_in, test_target, **settings
            ),
        }
    test_users = user_map[user_map["split"] == "test"].sort_values("row")["user"].to_numpy()
    return {
        "metrics": mlflow_metrics(results, headline=model_config["kind"]),
        "report": report(results, test_fold_in.shape[0]),
        "report_markdown": markdown_table(results),
        "per_user": per_user_frame(results, test_users),
    }


def mlflow_metrics(results: dict[str, Evaluation], headline: str) -> dict:
    """``test/<metric>`` for the trained model and ``<name>/<metric>`` for baselines."""
    metrics = {}
    for name, result in results.items():
        prefix = "test" if name == headline else name
        for metric, value in result.summary().items():
            metrics[f"{prefix}/{metric}"] = {"value": value, "step": 0}
    return metrics


def report(results: dict[str, Evaluation], n_test_users: int) -> dict:
    any_result = next(iter(results.values()))
    return {
        "n_test_users": n_test_users,
        "n_evaluated_users": int(any_result.rows.size),
        "n_users_without_targets": any_result.n_users_without_targets,
        "models": {name: result.summary() for name, result in results.items()},
    }


def markdown_table(results: dict[str, Evaluation]) -> str:
    metrics = list(next(iter(results.values())).summary())
    lines = [
        "| model | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for name, result in results.items():
        summary = result.summary()
        lines.append(f"| {name} | " + " | ".join(f"{summary[m]:.4f}" for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def per_user_frame(results: dict[str, Evaluation], test_users) -> pd.DataFrame:
    frames = []
    for name, result in results.items():
        frame = pd.DataFrame(result.per_user)
        frame.insert(0, "user", test_users[result.rows])
        frame.insert(0, "model", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
