"""The evaluation report's Markdown table."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def markdown_table(summaries: Mapping[str, Mapping[str, float]]) -> str:
    """The report: one row per model, one column per metric."""
    table = pd.DataFrame.from_dict(summaries, orient="index").rename_axis("model")
    return "# Evaluation on the test users\n\n" + table.to_markdown(floatfmt=".4f") + "\n"
