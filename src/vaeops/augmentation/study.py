"""The augmentation study as configured (``augmentation`` in parameters_augmentation.yml):
the experiments it is made of. Its selection is checked by the settings model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from vaeops.augmentation.datasets import LabelledData, Regime, SplitPlan, plan_splits
from vaeops.augmentation.protocol import Experiment
from vaeops.augmentation.settings import AugmentationParameters, MlpParameters


def experiment_for(
    data: LabelledData, regime_name: str, augmentation: AugmentationParameters
) -> Experiment:
    regime = Regime(regime_name, augmentation.regimes[regime_name])
    classifiers = {
        name: getattr(augmentation.classifiers, name) for name in augmentation.selected_classifiers
    }
    if "mlp" in classifiers and regime.settings.mlp is not None:
        classifiers["mlp"] = MlpParameters.model_validate(
            {
                **classifiers["mlp"].model_dump(),
                **regime.settings.mlp.model_dump(exclude_unset=True),
            }
        )
    return Experiment(
        data=data, regime=regime, classifiers=classifiers, seed=augmentation.protocol.seed
    )


def experiments(
    datasets: Mapping[str, LabelledData], augmentation: AugmentationParameters
) -> Iterator[tuple[str, str, Experiment, SplitPlan]]:
    """(data set name, regime name, experiment, split plan) for every selected combination."""
    for name, data in datasets.items():
        plan = plan_splits(data.y, augmentation.protocol)
        for regime_name in augmentation.datasets[name].regimes:
            yield name, regime_name, experiment_for(data, regime_name, augmentation), plan


def minority_relevant(
    datasets: Mapping[str, LabelledData], augmentation: AugmentationParameters
) -> dict[tuple[str, str], bool]:
    """Whether minority recall matters for a (data set, regime): its class of interest
    was named, or the regime makes a class rare."""
    return {
        (name, regime): data.minority_named or augmentation.regimes[regime].imbalanced
        for name, data in datasets.items()
        for regime in augmentation.datasets[name].regimes
    }
