"""Reports titled with the run that wrote them (reports.titles), for the jobs and the
nodes that write Markdown."""

from vaeops.adapters.mlflow.lineage import dataset_label
from vaeops.adapters.mlflow.tracking import run_facts
from vaeops.data.settings import DatasetParameters, GivenSplitDatasetParameters
from vaeops.reports.titles import titled


def titled_report(
    markdown: str, dataset: DatasetParameters | GivenSplitDatasetParameters | str
) -> str:
    """``markdown`` under its title: the data set (a label, or settings to name it by),
    this run's MLflow run id, the command and today's date."""
    label = dataset if isinstance(dataset, str) else dataset_label(dataset.model_dump())
    return titled(markdown, run_facts(label))
