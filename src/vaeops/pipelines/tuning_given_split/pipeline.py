from kedro.pipeline import Pipeline, node

from vaeops.data.settings import GivenSplitDatasetParameters
from vaeops.pipelines.tuning.pipeline import MATRICES, study_and_comparison

from .nodes import carve_for_tuning

DATASET = "params:benchmark_given_split.dataset"
CARVE = "params:benchmark_given_split.validation"


def create_pipeline(**kwargs) -> Pipeline:
    """The tuning pipeline under the namespace ``tuning_given_split``, on matrices carved
    as benchmark_given_split carves them; its settings are params:tuning_given_split's
    (derived in YAML) and the given split's dataset."""
    carve = node(
        carve_for_tuning,
        [DATASET, CARVE],
        {name: name for name in MATRICES},
        name="carve_validation_for_tuning",
    )
    return Pipeline(
        [carve, study_and_comparison(GivenSplitDatasetParameters)],
        namespace="tuning_given_split",
        parameters={DATASET: DATASET, CARVE: CARVE, "params:dataset": DATASET},
    )
