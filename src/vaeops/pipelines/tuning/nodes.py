import copy
import logging
import time
from typing import Any

import scipy.sparse as sp
import torch
import yaml

from vaeops.integrations import studies
from vaeops.integrations.progress import EpochProgressBar
from vaeops.integrations.tracking import MlflowEpochLogger
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import ModelConfig
from vaeops.data.sparse import resolve_device
from vaeops.recommenders.training import TrainingConfig, TrainingDiverged, TrainingResult, train_autoencoder

logger = logging.getLogger(__name__)


def tune_hyperparameters(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: dict,
    tuning: dict,
) -> dict:
    """Run (or resume) the study; each trial trains with ``tuning.trial_epochs`` epochs.

    Trial 0 of a new study is the ``training`` parameters themselves, when they
    lie inside the search space, so the best trial is never worse than the
    default under the same budget.
    """
    space = studies.flatten_search_space(tuning["search_space"])
    defaults = current_values(training, space)  # a wrong name fails here, before any trial
    if not set(tuning["contour_params"]) <= set(space):
        raise ValueError(
            f"tuning.contour_params {tuning['contour_params']} must name two entries of "
            f"tuning.search_space: {sorted(space)}."
        )
    value_name = f"val_ndcg_at_{training['validation_k']}"
    study = studies.open_study(studies.StudySettings.from_params(tuning["study"]))
    enqueue_defaults(study, defaults, space)

    def objective(trial) -> float:
        settings = apply_values(training, studies.suggest(trial, space))
        settings["epochs"] = tuning["trial_epochs"]
        result = train_configuration(
            settings,
            train_matrix,
            validation_fold_in,
            validation_target,
            callbacks=(
                MlflowEpochLogger(run_id=trial.user_attrs[studies.MLFLOW_RUN_ID]),
                # The best-so-far value, so the last report equals the trial's value.
                studies.PruneOnEpochMetric(trial, f"best_{value_name}"),
            ),
        )
        return result.best_validation_ndcg

    started = time.perf_counter()
    ran = studies.run_trials(
        study,
        objective,
        n_trials=tuning["n_trials"],
        timeout_seconds=tuning["timeout_seconds"],
        value_name=value_name,
        catch=(TrainingDiverged,),
    )
    summary = studies.summarize(study)
    summary["this_run"] = {
        "trials": [trial.number for trial in ran],
        "n_trials_by_state": {
            state: sum(trial.state.name.lower() == state for trial in ran)
            for state in ("complete", "pruned", "fail")
        },
        "seconds": time.perf_counter() - started,
    }
    metrics = studies.log_best_to_active_run(summary, value_name)
    logger.info(
        "Study %r: %s; best %s = %.4f (trial %d)",
        summary["study_name"],
        summary["n_trials_by_state"],
        value_name,
        summary["best_value"],
        summary["best_trial"],
    )
    return {
        "summary": summary,
        "metrics": metrics,
        "best_params": {"training": apply_values(training, summary["best_params"])},
        **studies.study_figures(study, list(tuning["contour_params"]), target_name=value_name),
    }


def enqueue_defaults(study, defaults: dict[str, Any], space: dict[str, dict]) -> None:
    outside = [name for name, value in defaults.items() if not studies.contains(space[name], value)]
    if outside:
        logger.info(
            "The training parameters %s lie outside the search space; not enqueued as a trial.",
            {name: defaults[name] for name in outside},
        )
        return
    study.enqueue_trial(
        defaults, user_attrs={"enqueued": "training parameters"}, skip_if_exists=True
    )


def apply_values(training: dict, values: dict[str, Any]) -> dict:
    """A copy of the ``training`` block with dotted names set, e.g. ``model.latent_dim``.

    An int given for ``model.hidden_dims`` becomes the width of every hidden layer.
    """
    settings = copy.deepcopy(training)
    for name, value in values.items():
        block, leaf = _locate(settings, name)
        block[leaf] = [value] * len(block[leaf]) if isinstance(block[leaf], list) else value
    return settings


def current_values(training: dict, names) -> dict[str, Any]:
    """The ``training`` value of each tuned name (for hidden_dims: the width all layers share)."""
    values = {}
    for name in names:
        block, leaf = _locate(training, name)
        value = block[leaf]
        values[name] = (
            (value[0] if len(set(value)) == 1 else None) if isinstance(value, list) else value
        )
    return values


def _locate(settings: dict, name: str) -> tuple[dict, str]:
    *parents, leaf = name.split(".")
    block: Any = settings
    for part in parents:
        block = block.get(part) if isinstance(block, dict) else None
    if not isinstance(block, dict) or leaf not in block:
        raise ValueError(
            f"Search-space entry {name!r} names no training parameter; use a key of the "
            "`training` block, e.g. anneal_cap or model.latent_dim."
        )
    if block[leaf] == []:
        raise ValueError(
            f"{name} is empty (no hidden layer), so there is no width to tune; remove it "
            "from tuning.search_space or give training.model.hidden_dims a layer."
        )
    return block, leaf


def train_configuration(
    settings: dict,
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    callbacks: tuple = (),
) -> TrainingResult:
    settings = dict(settings)
    model_config = ModelConfig(n_items=train_matrix.shape[1], **settings.pop("model"))
    return train_autoencoder(
        model_config,
        train_matrix,
        validation_fold_in,
        validation_target,
        TrainingConfig(**settings),
        callbacks,
    )


def compare_on_test(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    best_params: dict,
    training: dict,
    evaluation: dict,
) -> dict:
    """Retrain the default and the tuned configuration alike and score each once on test."""
    device = resolve_device(evaluation["device"])
    scores: dict[str, dict[str, float]] = {}
    for name, settings in (("default", training), ("tuned", best_params["training"])):
        progress = EpochProgressBar(settings["epochs"], f"retrain {name}")
        result = train_configuration(
            settings, train_matrix, validation_fold_in, validation_target, callbacks=(progress,)
        )
        model = result.model.to(device).eval()
        with torch.no_grad():
            test = evaluate(
                model.score,
                test_fold_in,
                test_target,
                ks=evaluation["ks"],
                batch_size=evaluation["batch_size"],
                device=device,
            )
        scores[name] = {
            f"val/ndcg_at_{settings['validation_k']}": result.best_validation_ndcg,
            **{f"test/{metric}": value for metric, value in test.summary().items()},
        }
    metrics = {
        f"{name}/{metric}": {"value": value, "step": 0}
        for name, values in scores.items()
        for metric, value in values.items()
    }
    return {"metrics": metrics, "report": comparison_report(scores, best_params["training"])}


def comparison_report(scores: dict[str, dict[str, float]], tuned_training: dict) -> str:
    metrics = list(scores["default"])
    lines = [
        "# Tuned vs default configuration",
        "",
        "Both were trained alike (best-validation checkpoint) and scored once on the test users.",
        "",
        "| configuration | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    lines += [
        f"| {name} | " + " | ".join(f"{values[m]:.4f}" for m in metrics) + " |"
        for name, values in scores.items()
    ]
    lines.append("")
    for key in [m for m in metrics if m.startswith(("val/ndcg_at_", "test/ndcg_at_"))]:
        tuned, default = scores["tuned"][key], scores["default"][key]
        verdict = (
            "higher than" if tuned > default else "lower than" if tuned < default else "equal to"
        )
        lines.append(
            f"- {key}: tuned {tuned:.4f} is {verdict} default {default:.4f} "
            f"({tuned - default:+.4f})."
        )
    tuned_yaml = yaml.safe_dump({"training": tuned_training}, sort_keys=False).rstrip()
    lines += ["", "Tuned `training` parameters:", "", "```yaml", tuned_yaml, "```", ""]
    return "\n".join(lines)
