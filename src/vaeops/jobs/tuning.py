"""The Optuna study of a ``training`` block and the test comparison that follows it, shared
by the tuning pipelines of the Liang split and of a split that ships with the data."""

import time

import optuna
import scipy.sparse as sp

from vaeops.adapters.mlflow.tracking import MlflowEpochLogger
from vaeops.adapters.optuna import search, storage, summary, trials
from vaeops.adapters.progress import EpochProgressBar
from vaeops.config import flattened
from vaeops.data.settings import DatasetParameters, GivenSplitDatasetParameters
from vaeops.data.sparse import resolve_device
from vaeops.jobs.titles import titled_report
from vaeops.recommenders import configurations
from vaeops.recommenders.settings import EvaluationParameters, TrainingParameters, TuningParameters
from vaeops.recommenders.training import TrainingDiverged, train_autoencoder
from vaeops.reports.configurations import comparison_report
from vaeops.reports.studies import study_figures


def tune_hyperparameters(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    settings: TrainingParameters,
    tuning: TuningParameters,
    dataset: DatasetParameters | GivenSplitDatasetParameters,
) -> dict:
    """Run (or resume) the dataset's study; each trial trains the ``training`` block with
    its values, as a training run would, and records that block for the retrain.

    Trial 0 of a new study is the ``training`` parameters themselves, when they lie
    inside the search space, so the best trial is never worse than the default.
    """
    # Trials change the block as the YAML has it (the keys it sets), then validate it.
    training = settings.model_dump(exclude_unset=True)
    space = tuning.search_space.flattened()
    # A search-space name the training block lacks fails here, before any trial.
    defaults = configurations.current_values(training, space)
    value_name = f"val_ndcg_at_{training['validation_k']}"
    name = configurations.study_name(tuning.study.name, dataset)
    study = storage.open_study(tuning.study.model_copy(update={"name": name}))
    storage.check_study_data(
        study, configurations.data_signature(train_matrix, validation_fold_in, validation_target)
    )
    search.enqueue_if_in_space(study, defaults, space, source="training parameters")
    started = time.perf_counter()
    ran = trials.run_trials(
        study,
        _objective(
            training, space, value_name, train_matrix, validation_fold_in, validation_target
        ),
        n_trials=tuning.n_trials,
        timeout_seconds=tuning.timeout_seconds,
        value_name=value_name,
        catch=(TrainingDiverged,),
        # Named as a training run names them, so trials and training runs line up in MLflow.
        logged_params=lambda values: flattened(
            configurations.with_values(training, values), "training"
        ),
    )
    outcome = summary.summarize_run(study, ran, seconds=time.perf_counter() - started)
    metrics = summary.log_best_to_active_run(outcome, value_name)  # fails without a best trial
    return {
        "summary": outcome,
        "metrics": metrics,
        "best_params": configurations.best_parameters_file(outcome["best_user_attrs"], space),
        **study_figures(study, tuning.contour_params, target_name=value_name),
    }


def _objective(
    training: dict,
    space: dict,
    value_name: str,
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
) -> trials.Objective:
    """A trial trains the ``training`` block with the trial's values and is scored by its
    best validation NDCG; it reports that best-so-far value each epoch, so the pruner
    compares trials on it and the last report equals the trial's value."""

    def objective(trial: optuna.Trial) -> float:
        trained = configurations.with_values(training, search.suggest(trial, space))
        trial.set_user_attr(configurations.TRAINED_BLOCK, trained)
        result = train_autoencoder(
            TrainingParameters.model_validate(trained),
            train_matrix,
            validation_fold_in,
            validation_target,
            callbacks=(
                MlflowEpochLogger(run_id=trial.user_attrs[trials.MLFLOW_RUN_ID]),
                trials.PruneOnEpochMetric(trial, f"best_{value_name}"),
            ),
        )
        return result.best_validation_ndcg

    return objective


def compare_on_test(
    train_matrix: sp.csr_matrix,
    validation_fold_in: sp.csr_matrix,
    validation_target: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    test_target: sp.csr_matrix,
    best_params: dict,
    training: TrainingParameters,
    evaluation: EvaluationParameters,
    dataset: DatasetParameters | GivenSplitDatasetParameters,
) -> dict:
    """Retrain the default and the tuned configuration alike and score each once on test;
    the tuned one is this run's ``training`` with the best trial's searched values (what
    best_params.yml trains), so its validation score repeats the trial's when the study
    ran with these settings."""
    tuned = configurations.tuned_block(training.model_dump(exclude_unset=True), best_params)
    scores = configurations.compare_on_test(
        {"default": training, "tuned": TrainingParameters.model_validate(tuned)},
        train_matrix,
        validation_fold_in,
        validation_target,
        test_fold_in,
        test_target,
        ks=evaluation.ks,
        batch_size=evaluation.batch_size,
        device=resolve_device(evaluation.device),
        progress=EpochProgressBar,
    )
    return {
        "metrics": configurations.comparison_metrics(scores),
        "report": titled_report(comparison_report(scores, best_params), dataset),
    }
