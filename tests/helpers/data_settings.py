"""The data's settings blocks as conf/base sets them, with a test's overrides: the
defaults live in the YAML alone."""

from pathlib import Path

import yaml

from vaeops.data.settings import CarvedValidationParameters, PreprocessingParameters

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


def _block(file: str, *keys: str) -> dict:
    block = yaml.safe_load((CONF / file).read_text())
    for key in keys:
        block = block[key]
    return block


def preprocessing(**overrides) -> PreprocessingParameters:
    """parameters_preprocessing.yml's ``preprocessing`` with ``overrides``."""
    block = _block("parameters_preprocessing.yml", "preprocessing")
    return PreprocessingParameters.model_validate({**block, **overrides})


def carved_validation(**overrides) -> CarvedValidationParameters:
    """parameters_benchmark_given_split.yml's ``validation`` with ``overrides``."""
    block = _block("parameters_benchmark_given_split.yml", "benchmark_given_split", "validation")
    return CarvedValidationParameters.model_validate({**block, **overrides})
