"""The augmentation study as configured (``augmentation`` in parameters_augmentation.yml):
its selection checked before any training starts, and the experiments it is made of."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vaeops.augmentation.arms import BASELINE_ARM, CLASSIFIERS, check_arm_settings
from vaeops.augmentation.datasets import LabelledData, Regime, SplitPlan, plan_splits
from vaeops.augmentation.protocol import Experiment


def check_selection(augmentation: Mapping[str, Any]) -> None:
    """Every selected data set, regime, arm and classifier is defined, and `none` is among
    the arms, so that a typo fails at once rather than after hours of training."""
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
    for name in augmentation["selected_datasets"]:
        for regime in augmentation["datasets"][name]["regimes"]:
            regime_named(augmentation, regime)


def regime_named(augmentation: Mapping[str, Any], name: str) -> Regime:
    if name not in augmentation["regimes"]:
        raise ValueError(
            f"Regime {name!r} is not defined in augmentation.regimes; defined: "
            f"{sorted(augmentation['regimes'])}."
        )
    return Regime.from_params(name, augmentation["regimes"][name])


def imbalanced_regimes(augmentation: Mapping[str, Any]) -> set[str]:
    return {
        name
        for name, spec in augmentation["regimes"].items()
        if spec.get("minority_ratio") is not None
    }


def experiment_for(
    data: LabelledData, regime_name: str, augmentation: Mapping[str, Any]
) -> Experiment:
    regime = regime_named(augmentation, regime_name)
    classifiers = {
        name: dict(augmentation["classifiers"][name])
        for name in augmentation["selected_classifiers"]
    }
    if "mlp" in classifiers:
        classifiers["mlp"].update(regime.mlp)
    return Experiment(
        data=data, regime=regime, classifiers=classifiers, seed=augmentation["protocol"]["seed"]
    )


def experiments(
    datasets: Mapping[str, LabelledData], augmentation: Mapping[str, Any]
) -> Iterator[tuple[str, str, Experiment, SplitPlan]]:
    """(data set name, regime name, experiment, split plan) for every selected combination."""
    for name, data in datasets.items():
        plan = plan_splits(data.y, augmentation["protocol"])
        for regime_name in augmentation["datasets"][name]["regimes"]:
            yield name, regime_name, experiment_for(data, regime_name, augmentation), plan


def minority_relevant(
    datasets: Mapping[str, LabelledData], augmentation: Mapping[str, Any]
) -> dict[tuple[str, str], bool]:
    """Whether minority recall matters for a (data set, regime): its class of interest
    was named, or the regime makes a class rare."""
    return {
        (name, regime): data.minority_named or regime_named(augmentation, regime).imbalanced
        for name, data in datasets.items()
        for regime in augmentation["datasets"][name]["regimes"]
    }
