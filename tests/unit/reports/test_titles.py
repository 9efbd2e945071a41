"""Every report opens with its title: data set, run, command and date."""

import pytest

from vaeops.reports.titles import RunFacts, titled

FACTS = RunFacts("ml-100k", "6f18285248d1", "kedro run --pipelines benchmark", "2026-12-07")


def test_the_title_names_the_data_set_and_the_next_line_the_run_command_and_date():
    report = titled("# Benchmark of every model\n\n| a |\n", FACTS)
    assert report.splitlines()[:4] == [
        "# Benchmark of every model · ml-100k",
        "",
        "MLflow run 6f18285248d1 · `kedro run --pipelines benchmark` · 2026-12-07",
        "",
    ]
    assert report.endswith("| a |\n")


def test_an_untracked_run_says_so_and_a_report_without_heading_is_refused():
    untracked = RunFacts("clicks.csv", None, "kedro run", "2026-12-07")
    assert "MLflow run untracked · `kedro run`" in titled("# Evaluation\n", untracked)
    with pytest.raises(ValueError, match="opens with a '# ' heading"):
        titled("| model |\n", FACTS)
