"""The benchmark's nodes: the held-out users' matrices, every model chosen, fitted and
scored (``vaeops.jobs.benchmark``), and the report."""

from typing import Any

from vaeops.data.settings import DatasetParameters
from vaeops.jobs import benchmark as jobs
from vaeops.jobs.benchmark import benchmark_models
from vaeops.recommenders.benchmark import held_out_data
from vaeops.recommenders.benchmark.settings import BenchmarkParameters

__all__ = ["benchmark_models", "held_out_data", "report_benchmark"]


def report_benchmark(
    results: dict[str, Any], benchmark: BenchmarkParameters, dataset: DatasetParameters
) -> dict[str, Any]:
    """The job's report, its title naming the Liang split's data source."""
    return jobs.report_benchmark(results, benchmark, dataset)
