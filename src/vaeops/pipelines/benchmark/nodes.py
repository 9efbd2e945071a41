"""The benchmark's nodes: the held-out users' matrices, every model chosen, fitted and
scored (``vaeops.jobs.benchmark``), and the report."""

from vaeops.jobs.benchmark import benchmark_models, report_benchmark
from vaeops.recommenders.benchmark import held_out_data

__all__ = ["benchmark_models", "held_out_data", "report_benchmark"]
