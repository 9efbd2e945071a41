from kedro.pipeline import Pipeline, node

from vaeops.jobs.benchmark import benchmark_models
from vaeops.recommenders.benchmark import benchmark_report, held_out_data


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
                benchmark_report,
                ["benchmark_results", "params:benchmark"],
                {"report": "benchmark_report", "report_markdown": "benchmark_report_markdown"},
                name="write_benchmark_report",
            ),
        ]
    )
