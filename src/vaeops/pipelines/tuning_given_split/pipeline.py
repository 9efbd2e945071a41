from kedro.pipeline import Pipeline, node

from vaeops.pipelines.tuning.pipeline import MATRICES, study_and_comparison

from .nodes import carve_for_tuning


def create_pipeline(**kwargs) -> Pipeline:
    """The tuning pipeline under the namespace ``tuning_given_split``, on matrices carved
    as benchmark_given_split carves them; its settings are params:tuning_given_split's
    (derived in YAML) and the given split's dataset."""
    carve = node(
        carve_for_tuning,
        "params:benchmark_given_split",
        {name: name for name in MATRICES},
        name="carve_validation_for_tuning",
    )
    return Pipeline(
        [carve, study_and_comparison()],
        namespace="tuning_given_split",
        parameters={
            "params:benchmark_given_split": "params:benchmark_given_split",
            "params:dataset": "params:benchmark_given_split.dataset",
        },
    )
