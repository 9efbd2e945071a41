"""The data's settings blocks as conf/base sets them, with a test's overrides: the
defaults live in the YAML alone."""

from tests.helpers.settings import shipped
from vaeops.data.settings import CarvedValidationParameters, PreprocessingParameters


def preprocessing(**overrides) -> PreprocessingParameters:
    """parameters_preprocessing.yml's ``preprocessing`` with ``overrides``."""
    return PreprocessingParameters.model_validate({**shipped()["preprocessing"], **overrides})


def carved_validation(**overrides) -> CarvedValidationParameters:
    """parameters_benchmark_given_split.yml's ``validation`` with ``overrides``."""
    block = shipped()["benchmark_given_split"]["validation"]
    return CarvedValidationParameters.model_validate({**block, **overrides})
