"""Nodes of `kedro run --pipelines augmentation`: tune the arms, score them on repeated
splits, compare each with `none`, and draw and write up what was found.

The study itself lives in ``vaeops.augmentation``; the Optuna search and the
per-arm MLflow runs in ``vaeops.jobs.augmentation_*``.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
from matplotlib.figure import Figure

from vaeops.augmentation.comparison import compare_arms
from vaeops.augmentation.datasets import LabelledData, load_dataset
from vaeops.augmentation.protocol import run_splits
from vaeops.augmentation.settings import AugmentationParameters, arm_settings
from vaeops.augmentation.study import experiments, minority_relevant
from vaeops.jobs.augmentation_runs import log_comparison
from vaeops.jobs.augmentation_tuning import choose_arm_settings
from vaeops.jobs.titles import titled_report
from vaeops.reports.augmentation import report_markdown
from vaeops.reports.augmentation_figures import accuracy_by_size, generator_views

logger = logging.getLogger(__name__)


def load_datasets(augmentation: AugmentationParameters) -> dict[str, LabelledData]:
    """The selected data sets (the settings model has checked the whole selection)."""
    datasets = {}
    for name in augmentation.selected_datasets:
        data = datasets[name] = load_dataset(name, augmentation.datasets[name])
        logger.info(
            "%s: %d rows, %d features, classes %s",
            name,
            len(data.y),
            data.x.shape[1],
            data.class_counts,
        )
    return datasets


def tune_arms(datasets: dict[str, LabelledData], augmentation: AugmentationParameters) -> dict:
    """The settings each arm runs with per data set and regime, tuned on the tuning partition.

    Returns ``{dataset: {regime: {arm: {settings, mlflow_run_id, study}}}}``.
    """
    chosen: dict[str, dict[str, dict]] = {}
    for name, regime, experiment, plan in experiments(datasets, augmentation):
        chosen.setdefault(name, {})[regime] = {
            arm: choose_arm_settings(
                experiment, plan, arm, augmentation.arm(arm), augmentation.tuning
            )
            for arm in augmentation.selected_arms
        }
    return chosen


def evaluate_arms(
    datasets: dict[str, LabelledData], chosen_settings: dict, augmentation: AugmentationParameters
) -> pd.DataFrame:
    """One row per data set x regime x split x arm x classifier, scored on the split's test fold."""
    rows = []
    for name, regime, experiment, plan in experiments(datasets, augmentation):
        arms = {
            arm: arm_settings(arm, chosen["settings"])
            for arm, chosen in chosen_settings[name][regime].items()
        }
        started = time.perf_counter()
        rows += run_splits(
            experiment,
            plan.splits,
            arms,
            augmentation.splits_per_task,
            augmentation.n_jobs,
            description=f"{name}/{regime}",
        )
        logger.info(
            "%s/%s: %d splits x %d arms x %d classifiers in %.0f s",
            name,
            regime,
            len(plan.splits),
            len(arms),
            len(experiment.classifiers),
            time.perf_counter() - started,
        )
    return pd.DataFrame(rows)


def compare_with_no_augmentation(
    scores: pd.DataFrame,
    datasets: dict[str, LabelledData],
    chosen_settings: dict,
    augmentation: AugmentationParameters,
) -> dict[str, pd.DataFrame]:
    """``summary`` (verdicts on ``statistics.metric``) and ``tests`` (every metric's
    probabilities), also logged to each arm's MLflow run."""
    result = compare_arms(
        scores, minority_relevant(datasets, augmentation), augmentation.statistics
    )
    log_comparison(result["summary"], result["tests"], chosen_settings)
    return result


def plot_accuracy_by_size(summary: pd.DataFrame, augmentation: AugmentationParameters) -> Figure:
    return accuracy_by_size(
        summary, augmentation.statistics.metric, augmentation.imbalanced_regimes()
    )


def draw_generator_views(
    datasets: dict[str, LabelledData], chosen_settings: dict, augmentation: AugmentationParameters
) -> dict:
    return generator_views(datasets, chosen_settings, augmentation)


def write_report(
    summary: pd.DataFrame,
    chosen_settings: dict,
    captions: dict,
    augmentation: AugmentationParameters,
) -> str:
    return titled_report(
        report_markdown(summary, chosen_settings, captions, augmentation),
        ", ".join(augmentation.selected_datasets),
    )
