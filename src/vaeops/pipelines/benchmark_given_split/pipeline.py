from kedro.pipeline import Pipeline, node

from .nodes import benchmark_models, given_split_data, report_benchmark, split_as_given


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                split_as_given,
                "params:benchmark_given_split.dataset",
                {
                    "train": "given_split_train",
                    "test_target": "given_split_test_target",
                    "summary": "given_split_summary",
                },
                name="split_as_given",
            ),
            node(
                given_split_data,
                [
                    "given_split_train",
                    "given_split_test_target",
                    "params:benchmark_given_split.validation",
                    "params:benchmark_given_split.refit",
                ],
                "given_split_benchmark_data",
                name="carve_validation_from_train",
            ),
            node(
                benchmark_models,
                ["given_split_benchmark_data", "params:benchmark_given_split.benchmark"],
                "given_split_results",
                name="train_and_evaluate_on_given_split",
            ),
            node(
                report_benchmark,
                [
                    "given_split_results",
                    "params:benchmark_given_split.benchmark",
                    "params:benchmark_given_split.dataset",
                ],
                {
                    "report": "given_split_report",
                    "report_markdown": "given_split_report_markdown",
                    "metrics": "given_split_metrics",
                },
                name="write_given_split_report",
            ),
        ]
    )
