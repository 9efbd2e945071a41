"""The Optuna study of a ``training`` block and the test comparison that follows it, shared
by the tuning pipelines of the Liang split and of a split that ships with the data."""

import time

import scipy.sparse as sp

from vaeops.adapters.mlflow.tracking import MlflowEpochLogger
from vaeops.adapters.optuna import studies
from vaeops.adapters.progress import EpochProgressBar
from vaeops.config import flattened
from vaeops.data.sparse import resolve_device
from vaeops.recommenders import configurations
from vaeops.recommenders.settings import TrainingParameters
from vaeops.recommenders.training import TrainingDiverged, train_autoencoder
from vaeops.reports.configurations import comparison_report


def tune_hyperparameters(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    training: dict,
    tuning: dict,
    dataset: dict,
) -> dict:
    """Run (or resume) the dataset's study; each trial trains the ``training`` block with
    its values, as a training run would, and records that block for the retrain.

    Trial 0 of a new study is the ``training`` parameters themselves, when they lie
    inside the search space, so the best trial is never worse than the default.
    """
    space = studies.flatten_search_space(tuning["search_space"])
    # A search space or plot that does not fit the training block fails here, before any trial.
    defaults = configurations.current_values(training, space)
    configurations.check_searched_settings_apply(training, space)
    studies.check_contour_params(tuning["contour_params"], space)
    value_name = f"val_ndcg_at_{training['validation_k']}"
    name = configurations.study_name(tuning["study"]["name"], dataset)
    study = studies.open_study(studies.StudySettings.from_params({**tuning["study"], "name": name}))
    studies.check_study_data(
        study, configurations.data_signature(train_matrix, validation_fold_in, validation_target)
    )
    studies.enqueue_if_in_space(study, defaults, space, source="training parameters")

    def objective(trial) -> float:
        trained = configurations.with_values(training, studies.suggest(trial, space))
        trial.set_user_attr(configurations.TRAINED_BLOCK, trained)
        result = train_autoencoder(
            TrainingParameters.model_validate(trained),
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
        # Named as a training run names them, so trials and training runs line up in MLflow.
        logged_params=lambda values: flattened(
            configurations.with_values(training, values), "training"
        ),
    )
    summary = studies.summarize_run(study, ran, seconds=time.perf_counter() - started)
    metrics = studies.log_best_to_active_run(summary, value_name)  # fails without a best trial
    return {
        "summary": summary,
        "metrics": metrics,
        "best_params": configurations.best_parameters_file(summary["best_user_attrs"]),
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
    """Retrain the default and the tuned configuration alike and score each once on test;
    the tuned one is the best trial's block, so its validation score repeats the trial's."""
    scores = configurations.compare_on_test(
        {
            "default": TrainingParameters.model_validate(training),
            "tuned": TrainingParameters.model_validate(best_params["training"]),
        },
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
        "report": comparison_report(scores, best_params["training"]),
    }
