from kedro.pipeline import Pipeline, node

from .nodes import benchmark_models, held_out_data, report_benchmark


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                held_out_data,
                [
                    "train_matrix",
                    "validation_fold_in",
                    "validation_target",
                    "test_fold_in",
                    "test_target",
                ],
                "benchmark_data",
                name="gather_benchmark_data",
            ),
            node(
                benchmark_models,
                ["benchmark_data", "params:benchmark"],
                "benchmark_results",
                name="train_and_evaluate_benchmark_models",
            ),
            node(
                report_benchmark,
                ["benchmark_results", "params:benchmark", "params:dataset"],
                {
                    "report": "benchmark_report",
                    "report_markdown": "benchmark_report_markdown",
                    "metrics": "benchmark_metrics",
                },
                name="write_benchmark_report",
            ),
        ]
    )
