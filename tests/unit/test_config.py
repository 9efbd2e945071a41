"""Parameter blocks merged, flattened to MLflow's dotted names, and read back from models."""

from tests.helpers import settings
from vaeops.config import flattened, merged, plain_settings
from vaeops.data.settings import (
    CarvedValidationParameters,
    DatasetParameters,
    PreprocessingParameters,
)


def test_blocks_merge_key_by_key_and_flatten_to_dotted_names():
    base = {"model": {"kind": "multvae", "latent_dim": 200}, "epochs": 200}
    changed = merged(base, {"model": {"latent_dim": 100}})
    assert changed == {"model": {"kind": "multvae", "latent_dim": 100}, "epochs": 200}
    assert base["model"]["latent_dim"] == 200
    assert flattened(changed, "training") == {
        "training.model.kind": "multvae",
        "training.model.latent_dim": 100,
        "training.epochs": 200,
    }
    assert flattened({}) == {}


def test_settings_models_read_back_as_the_mappings_of_the_yaml():
    """Kedro 1.7 puts the model a node names into the parameters; the hooks and
    kedro-mlflow's param logging see the YAML's mappings again, keys left out staying out."""
    shipped = settings.shipped()
    given_split = shipped["benchmark_given_split"]
    params = {
        "dataset": DatasetParameters.model_validate(shipped["dataset"]),
        "preprocessing": PreprocessingParameters.model_validate(shipped["preprocessing"]),
        "benchmark_given_split": given_split,
    }
    validation = given_split["validation"]
    given_split["validation"] = CarvedValidationParameters.model_validate(validation)
    plain = plain_settings(params)
    assert plain["dataset"] == shipped["dataset"]
    assert plain["preprocessing"] == shipped["preprocessing"]
    assert plain["benchmark_given_split"]["validation"] == validation
    without_separator = {k: v for k, v in shipped["dataset"].items() if k != "separator"}
    assert plain_settings(DatasetParameters.model_validate(without_separator)) == without_separator
