import time

import scipy.sparse as sp

from vaeops.data.sparse import resolve_device
from vaeops.integrations import studies
from vaeops.integrations.progress import EpochProgressBar
from vaeops.integrations.tracking import MlflowEpochLogger
from vaeops.recommenders import configurations
from vaeops.recommenders.training import TrainingDiverged


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
    # A search space or plot that does not fit the training block fails here, before any trial.
    defaults = configurations.current_values(training, space)
    studies.check_contour_params(tuning["contour_params"], space)
    value_name = f"val_ndcg_at_{training['validation_k']}"
    study = studies.open_study(studies.StudySettings.from_params(tuning["study"]))
    studies.enqueue_if_in_space(study, defaults, space, source="training parameters")

    def objective(trial) -> float:
        result = configurations.train_configuration(
            configurations.trial_training(
                training, studies.suggest(trial, space), tuning["trial_epochs"]
            ),
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
    summary = studies.summarize_run(study, ran, seconds=time.perf_counter() - started)
    metrics = studies.log_best_to_active_run(summary, value_name)  # fails without a best trial
    return {
        "summary": summary,
        "metrics": metrics,
        "best_params": configurations.best_parameters_file(training, summary["best_params"]),
        **studies.study_figures(study, list(tuning["contour_params"]), target_name=value_name),
    }


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
    scores = configurations.compare_on_test(
        {"default": training, "tuned": best_params["training"]},
        train_matrix,
        validation_fold_in,
        validation_target,
        test_fold_in,
        test_target,
        ks=evaluation["ks"],
        batch_size=evaluation["batch_size"],
        device=resolve_device(evaluation["device"]),
        progress=EpochProgressBar,
    )
    return {
        "metrics": configurations.comparison_metrics(scores),
        "report": configurations.comparison_report(scores, best_params["training"]),
    }
