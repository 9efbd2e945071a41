"""The augmentation settings as shipped in conf/base/parameters_augmentation.yml, the one
place their defaults live, for tests that need settings."""

from typing import Any

from tests.helpers.settings import shipped
from vaeops.augmentation.settings import AugmentationParameters
from vaeops.schema import Block


def augmentation_parameters() -> dict[str, Any]:
    """A fresh copy of the shipped ``augmentation`` block, as plain YAML data."""
    return shipped()["augmentation"]


def augmentation_settings(params: dict[str, Any] | None = None) -> AugmentationParameters:
    """``params`` (by default the shipped block) checked into the settings model."""
    return AugmentationParameters.model_validate(
        augmentation_parameters() if params is None else params
    )


def changed(settings: Block, **changes: Any) -> Block:
    """``settings`` with some values replaced, checked by the same model."""
    return type(settings).model_validate({**settings.model_dump(exclude_unset=True), **changes})
