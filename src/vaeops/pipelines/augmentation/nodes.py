"""Nodes of `kedro run --pipeline augmentation`: tune the arms, score them on repeated
splits, compare each with `none`, and draw and write up what was found.

MLflow: the kedro-mlflow run is the parent; every data set x regime x arm gets
one nested run, made when its arm is tuned (its Optuna trials nest under it)
and given its scores and posterior probabilities once the comparison is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from vaeops.statistics.correlated_cv import correlated_t_test, nadeau_bengio_correlation
from vaeops.integrations.tracking import start_child_run

from vaeops.augmentation.arms import BASELINE_ARM, CLASSIFIERS, METRICS, check_arm_settings
from vaeops.augmentation.datasets import LabelledData, Regime, load_dataset, plan_splits
from .protocol import Experiment, run_splits, tune_arm

logger = logging.getLogger(__name__)

VERDICTS = ("helped", "equivalent", "hurt", "inconclusive")


def load_datasets(augmentation: dict) -> dict[str, LabelledData]:
    """The selected data sets; every name, regime, arm and classifier is checked here,
    before any training starts."""
    unknown = set(augmentation["selected_datasets"]) - set(augmentation["datasets"])
    if unknown:
        raise ValueError(
            f"augmentation.selected_datasets names {sorted(unknown)}, which augmentation.datasets "
            f"does not define; defined: {sorted(augmentation['datasets'])}."
        )
    if BASELINE_ARM not in augmentation["selected_arms"]:
        raise ValueError(
            f"augmentation.selected_arms must include {BASELINE_ARM!r}: every arm is compared "
            "with it."
        )
    for arm in augmentation["selected_arms"]:
        if arm not in augmentation["arms"]:
            raise ValueError(
                f"augmentation.selected_arms names {arm!r}, which augmentation.arms does not "
                "define."
            )
        check_arm_settings(arm, augmentation["arms"][arm]["settings"])
    for classifier in augmentation["selected_classifiers"]:
        if classifier not in CLASSIFIERS:
            raise ValueError(
                f"augmentation.selected_classifiers names {classifier!r}; choose from "
                f"{CLASSIFIERS}."
            )
    datasets = {}
    for name in augmentation["selected_datasets"]:
        spec = augmentation["datasets"][name]
        for regime in spec["regimes"]:
            _regime(augmentation, regime)
        datasets[name] = load_dataset(name, spec)
        data = datasets[name]
        logger.info(
            "%s: %d rows, %d features, classes %s",
            name,
            len(data.y),
            data.x.shape[1],
            dict(zip(data.class_names, np.bincount(data.y).tolist(), strict=True)),
        )
    return datasets


def _regime(augmentation: Mapping[str, Any], name: str) -> Regime:
    if name not in augmentation["regimes"]:
        raise ValueError(
            f"Regime {name!r} is not defined in augmentation.regimes; defined: "
            f"{sorted(augmentation['regimes'])}."
        )
    return Regime.from_params(name, augmentation["regimes"][name])


def experiment_for(
    data: LabelledData, regime_name: str, augmentation: Mapping[str, Any]
) -> Experiment:
    regime = _regime(augmentation, regime_name)
    classifiers = {
        name: dict(augmentation["classifiers"][name])
        for name in augmentation["selected_classifiers"]
    }
    if "mlp" in classifiers:
        classifiers["mlp"].update(regime.mlp)
    return Experiment(
        data=data, regime=regime, classifiers=classifiers, seed=augmentation["protocol"]["seed"]
    )


def experiments(datasets: Mapping[str, LabelledData], augmentation: Mapping[str, Any]):
    """(data set name, regime name, experiment, split plan) for every selected combination."""
    for name, data in datasets.items():
        plan = plan_splits(data.y, augmentation["protocol"])
        for regime_name in augmentation["datasets"][name]["regimes"]:
            yield name, regime_name, experiment_for(data, regime_name, augmentation), plan


def tune_arms(datasets: dict[str, LabelledData], augmentation: dict) -> dict:
    """The settings each arm runs with per data set and regime, tuned on the tuning partition.

    Returns ``{dataset: {regime: {arm: {settings, mlflow_run_id, study}}}}``.
    """
    chosen: dict[str, dict[str, dict[str, Any]]] = {}
    for name, regime_name, experiment, plan in experiments(datasets, augmentation):
        for arm in augmentation["selected_arms"]:
            spec = augmentation["arms"][arm]
            with start_child_run(f"{name}/{regime_name}/{arm}") as run:
                mlflow.set_tags(
                    {
                        "augmentation.dataset": name,
                        "augmentation.regime": regime_name,
                        "augmentation.arm": arm,
                    }
                )
                settings, study = dict(spec["settings"]), None
                if spec["n_trials"] > 0 and spec["search_space"]:
                    started = time.perf_counter()
                    settings, summary = tune_arm(
                        experiment,
                        plan,
                        arm,
                        settings,
                        spec["search_space"],
                        spec["n_trials"],
                        augmentation["tuning"],
                    )
                    study = {key: summary[key] for key in ("n_trials", "best_trial", "best_value")}
                    study["seconds"] = time.perf_counter() - started
                    logger.info(
                        "%s/%s/%s tuned in %.0f s: %s = %.4f with %s",
                        name,
                        regime_name,
                        arm,
                        study["seconds"],
                        augmentation["tuning"]["metric"],
                        study["best_value"],
                        summary["best_params"],
                    )
                if settings:
                    mlflow.log_params({f"settings.{key}": value for key, value in settings.items()})
            chosen.setdefault(name, {}).setdefault(regime_name, {})[arm] = {
                "settings": settings,
                "mlflow_run_id": run.info.run_id,
                "study": study,
            }
    return chosen


def evaluate_arms(
    datasets: dict[str, LabelledData], arm_settings: dict, augmentation: dict
) -> pd.DataFrame:
    """One row per data set x regime x split x arm x classifier, scored on the split's test fold."""
    rows = []
    for name, regime_name, experiment, plan in experiments(datasets, augmentation):
        arms = {arm: chosen["settings"] for arm, chosen in arm_settings[name][regime_name].items()}
        started = time.perf_counter()
        rows += run_splits(
            experiment,
            plan.splits,
            arms,
            augmentation["splits_per_task"],
            augmentation["n_jobs"],
            description=f"{name}/{regime_name}",
        )
        logger.info(
            "%s/%s: %d splits x %d arms x %d classifiers in %.0f s",
            name,
            regime_name,
            len(plan.splits),
            len(arms),
            len(experiment.classifiers),
            time.perf_counter() - started,
        )
    return pd.DataFrame(rows)


def compare_arms(
    scores: pd.DataFrame, datasets: dict[str, LabelledData], arm_settings: dict, augmentation: dict
) -> dict[str, pd.DataFrame]:
    """Mean and sd per metric, and each arm against `none` split by split.

    ``summary`` has one row per data set x regime x classifier x arm with the
    probabilities for ``statistics.metric`` and the verdict they give; ``tests``
    has the probabilities for every metric. Both go to the arm's MLflow run too.
    """
    statistics = augmentation["statistics"]
    summary_rows, test_rows = [], []
    keys = ["repeat", "fold"]
    for (name, regime_name, classifier), group in scores.groupby(
        ["dataset", "regime", "classifier"], sort=False
    ):
        data = datasets[name]
        regime = _regime(augmentation, regime_name)
        baseline = group[group["arm"] == BASELINE_ARM].sort_values(keys)
        for arm, rows in group.groupby("arm", sort=False):
            rows = rows.sort_values(keys)
            row = {
                "dataset": name,
                "regime": regime_name,
                "classifier": classifier,
                "arm": arm,
                "n_train": rows["n_train"].mean(),
                "n_synthetic": rows["n_synthetic"].mean(),
                "n_splits": len(rows),
                "minority_relevant": data.minority_named or regime.imbalanced,
            }
            for metric in METRICS:
                row[f"{metric}_mean"] = rows[metric].mean()
                row[f"{metric}_sd"] = rows[metric].std(ddof=1)
            if arm != BASELINE_ARM:
                if not np.array_equal(rows[keys].to_numpy(), baseline[keys].to_numpy()):
                    raise RuntimeError(
                        f"{name}/{regime_name}: arm {arm} and {BASELINE_ARM} were not scored "
                        "on the "
                        "same splits; the paired test needs both on every split."
                    )
                correlation = nadeau_bengio_correlation(
                    int(rows["n_train_fold"].iloc[0]), int(rows["n_test"].iloc[0])
                )
                for metric in METRICS:
                    test = correlated_t_test(
                        rows[metric].to_numpy(),
                        baseline[metric].to_numpy(),
                        rope=statistics["rope"],
                        correlation=correlation,
                    )
                    test_rows.append(
                        {
                            "dataset": name,
                            "regime": regime_name,
                            "classifier": classifier,
                            "arm": arm,
                            "metric": metric,
                            **test.to_dict(),
                        }
                    )
                    if metric == statistics["metric"]:
                        row.update(
                            difference=test.mean_difference,
                            p_worse=test.p_worse,
                            p_rope=test.p_rope,
                            p_better=test.p_better,
                            verdict=verdict(
                                test.p_worse,
                                test.p_rope,
                                test.p_better,
                                statistics["decision_probability"],
                            ),
                        )
            else:
                row["verdict"] = "baseline"
            summary_rows.append(row)
    summary, tests = pd.DataFrame(summary_rows), pd.DataFrame(test_rows)
    _log_to_arm_runs(summary, tests, arm_settings)
    return {"summary": summary, "tests": tests}


def verdict(p_worse: float, p_rope: float, p_better: float, decision_probability: float) -> str:
    """helped / hurt / equivalent when that posterior probability exceeds the threshold,
    else inconclusive."""
    if p_better > decision_probability:
        return "helped"
    if p_worse > decision_probability:
        return "hurt"
    if p_rope > decision_probability:
        return "equivalent"
    return "inconclusive"


def _log_to_arm_runs(summary: pd.DataFrame, tests: pd.DataFrame, arm_settings: dict) -> None:
    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    for (name, regime_name, arm), rows in summary.groupby(["dataset", "regime", "arm"], sort=False):
        run_id = arm_settings[name][regime_name][arm]["mlflow_run_id"]
        metrics = {}
        for _, row in rows.iterrows():
            for metric in METRICS:
                metrics[f"{row['classifier']}/{metric}/mean"] = row[f"{metric}_mean"]
                metrics[f"{row['classifier']}/{metric}/sd"] = row[f"{metric}_sd"]
            metrics[f"{row['classifier']}/n_synthetic"] = row["n_synthetic"]
        arm_tests = (
            tests[
                (tests["dataset"] == name)
                & (tests["regime"] == regime_name)
                & (tests["arm"] == arm)
            ]
            if len(tests)
            else tests
        )
        for _, test in arm_tests.iterrows():
            for probability in ("p_better", "p_rope", "p_worse"):
                metrics[f"{test['classifier']}/{test['metric']}/{probability}"] = test[probability]
        client.log_batch(
            run_id,
            metrics=[
                mlflow.entities.Metric(key, float(value), now, 0)
                for key, value in metrics.items()
                if np.isfinite(value)
            ],
        )
        client.set_tag(run_id, "augmentation.n_train", f"{rows['n_train'].mean():.0f}")
        for _, row in rows.iterrows():
            client.set_tag(run_id, f"verdict.{row['classifier']}", row["verdict"])
