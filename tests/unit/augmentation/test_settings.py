"""The augmentation settings: a bad selection or an arm's bad settings fail before any
training, each named by its key."""

import pytest
from pydantic import ValidationError

from tests.helpers.augmentation_settings import augmentation_parameters, augmentation_settings


def changed(path: str, value) -> dict:
    """The shipped parameters with the key at ``path`` set to ``value`` (``...``: removed)."""
    params = augmentation_parameters()
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return params


def test_the_shipped_settings_pass():
    settings = augmentation_settings()
    assert settings.imbalanced_regimes() == {"imbalanced"}
    assert settings.arm("cvae") is settings.arms.cvae


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("selected_datasets", ["wine", "iris"], "selected_datasets names 'iris'"),
        ("selected_arms", ["noise"], "must include 'none'"),
        ("arms.smote", ..., "selected_arms names 'smote', which arms does not define"),
        ("arms.noise.settings", {"ratio": 1.0}, r"arms.noise.settings.scale\n"),
        ("arms.smote.search_space.beta", {"type": "float", "low": 0.1, "high": 2.0}, "beta"),
        ("arms.mixup", {"settings": {}, "n_trials": 0, "search_space": {}}, "mixup"),
        ("selected_classifiers", ["svm"], "svm"),
        ("datasets.wine.regimes", ["5-per-class", "tiny"], "regimes names 'tiny'"),
        ("regimes.full", {"per_class": 5, "fraction": 0.5}, "exactly one of per_class"),
        ("regimes.full", {"per_clas": 5}, "per_clas"),
        ("datasets.wine.source", "iris", "source"),
    ],
)
def test_a_bad_setting_fails_before_any_training(path, value, message):
    with pytest.raises(ValidationError, match=message):
        augmentation_settings(changed(path, value))
