"""The Markdown of a tuned configuration compared with the default on the test users."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import yaml


def comparison_report(scores: Mapping[str, Mapping[str, float]], best_parameters: dict) -> str:
    """Markdown: the ``default`` and ``tuned`` scores side by side, a verdict per NDCG,
    and best_params.yml, the searched settings to copy into an environment."""
    table = pd.DataFrame.from_dict(scores, orient="index").rename_axis("configuration")
    verdicts = []
    for key in [m for m in table.columns if m.startswith(("val/ndcg_at_", "test/ndcg_at_"))]:
        tuned, default = scores["tuned"][key], scores["default"][key]
        verdict = (
            "higher than" if tuned > default else "lower than" if tuned < default else "equal to"
        )
        verdicts.append(
            f"- {key}: tuned {tuned:.4f} is {verdict} default {default:.4f} "
            f"({tuned - default:+.4f})."
        )
    tuned_yaml = yaml.safe_dump(best_parameters, sort_keys=False).rstrip()
    return "\n".join(
        [
            "# Tuned vs default configuration",
            "",
            "Both were trained alike (best-validation checkpoint) and scored once on the test "
            "users.",
            "",
            table.to_markdown(floatfmt=".4f"),
            "",
            *verdicts,
            "",
            "The tuned settings (best_params.yml; docs/tuning.md says how to train them):",
            "",
            "```yaml",
            tuned_yaml,
            "```",
            "",
        ]
    )
