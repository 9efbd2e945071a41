"""The markdown report of the augmentation study: protocol, verdicts, results, the
settings each arm ran with, and the figures. Every verdict in it is read from the
comparison's summary; nothing is hard-coded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from vaeops.augmentation.comparison import VERDICTS
from vaeops.augmentation.settings import (
    BASELINE_ARM,
    AugmentationParameters,
    AugmentationTuningParameters,
    StatisticsParameters,
)

METRIC_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "macro_f1": "macro-F1",
    "minority_recall": "minority recall",
}
# Where the pictures lie, relative to the report (see conf/base/catalog_augmentation.yml).
FIGURE_FOLDER = "augmentation"
RESULT_COLUMNS = (
    "regime",
    "classifier",
    "arm",
    "real rows",
    "synthetic",
    "accuracy",
    "balanced acc.",
    "macro-F1",
    "minority recall",
    "Δ",
    "P(worse)",
    "P(equiv.)",
    "P(better)",
    "verdict",
)
NUMERIC_RESULT_COLUMNS = RESULT_COLUMNS[3:-1]


def report_markdown(
    summary: pd.DataFrame,
    arm_settings: Mapping,
    captions: Mapping[str, str],
    augmentation: AugmentationParameters,
) -> str:
    """The results in markdown, with verdicts derived from the posterior probabilities."""
    lines = ["# Does data augmentation help the classifier?", ""]
    lines += _protocol(augmentation)
    lines += _verdicts(summary)
    lines += _results(summary, augmentation.statistics)
    lines += _settings(arm_settings, augmentation.tuning)
    lines += ["## Figures", ""]
    label = METRIC_LABELS[augmentation.statistics.metric]
    lines += [
        f"![Test {label} against training-set size]({FIGURE_FOLDER}/accuracy_vs_size.png)",
        "",
    ]
    for file, caption in captions.items():
        lines += [f"![{caption}]({FIGURE_FOLDER}/generator/{file})", "", f"*{caption}.*", ""]
    return "\n".join(lines)


def markdown_table(
    rows: list[dict[str, str]], columns: Iterable[str], right: Iterable[str] = ()
) -> str:
    """Cells as written (no number parsing, so "+1.0" keeps its sign); ``right`` columns
    are right-aligned."""
    frame = pd.DataFrame(rows, columns=list(columns))
    right = set(right)
    return frame.to_markdown(
        index=False,
        disable_numparse=True,
        colalign=["right" if column in right else "left" for column in frame.columns],
    )


def _protocol(augmentation: AugmentationParameters) -> list[str]:
    protocol, statistics = augmentation.protocol, augmentation.statistics
    rope, threshold = statistics.rope, statistics.decision_probability
    n_splits = protocol.repeats * protocol.folds
    return [
        f"Every arm was scored on the same {protocol.repeats} × {protocol.folds} repeated "
        f"stratified splits ({n_splits} test folds) of each data set, after a stratified "
        f"{protocol.tuning_fraction:.0%} tuning partition had been set aside for Optuna. In "
        "each split the regime subsamples the training fold; the scaler, the augmenter and the "
        "classifiers see only those rows, and the test fold is never subsampled.",
        "",
        f"Each arm is compared with `{BASELINE_ARM}` split by split by a Bayesian correlated "
        "t-test (Benavoli et al. 2017, with the Nadeau-Bengio correction for overlapping "
        f"training sets) on {METRIC_LABELS[statistics.metric]}, with a region of practical "
        f"equivalence (ROPE) of ±{rope:g}. An arm **helped** when P(better) > {threshold:g}, "
        f"**hurt** when P(worse) > {threshold:g}, was **equivalent** when P(equivalent) > "
        f"{threshold:g}, and is **inconclusive** otherwise.",
        "",
    ]


def _verdicts(summary: pd.DataFrame) -> list[str]:
    compared = summary[summary["arm"] != BASELINE_ARM]
    counts = compared["verdict"].value_counts()
    lines = [
        "## Verdicts",
        "",
        f"Of {len(compared)} comparisons (data set × regime × classifier × arm) augmentation "
        + ", ".join(f"{_verb(v)} in {counts.get(v, 0)}" for v in VERDICTS)
        + ".",
        "",
    ]
    for outcome in ("helped", "hurt"):
        chosen = compared[compared["verdict"] == outcome]
        cases = "; ".join(
            f"{row.dataset} {row.regime}, {row.arm} with {row.classifier} "
            f"({100 * row.difference:+.1f} points, P = "
            f"{row.p_better if outcome == 'helped' else row.p_worse:.2f})"
            for row in chosen.itertuples()
        )
        lines.append(f"- It **{outcome}**: {cases or 'nowhere'}.")
    lines += ["", "Verdict (and Δ in points) per data set, regime, arm and classifier:", ""]
    columns = list(dict.fromkeys(f"{row.arm} ({row.classifier})" for row in compared.itertuples()))
    rows = []
    for (name, regime), group in compared.groupby(["dataset", "regime"], sort=False):
        cells = {
            f"{row.arm} ({row.classifier})": f"{row.verdict} ({100 * row.difference:+.1f})"
            for row in group.itertuples()
        }
        rows.append({"data set": name, "regime": regime, **{c: cells.get(c, "–") for c in columns}})
    return [*lines, markdown_table(rows, ["data set", "regime", *columns]), ""]


def _verb(outcome: str) -> str:
    return {"equivalent": "was equivalent", "inconclusive": "was inconclusive"}.get(
        outcome, outcome
    )


def _results(summary: pd.DataFrame, statistics: StatisticsParameters) -> list[str]:
    rope, label = statistics.rope, METRIC_LABELS[statistics.metric]
    lines = [
        "## Results",
        "",
        f"Mean ± sd over the test folds. Δ is the mean paired difference in {label} against "
        f"`{BASELINE_ARM}`, in points; P(worse), P(equiv.) and P(better) are the posterior "
        f"probabilities of that difference lying below −{rope:g}, within ±{rope:g}, or above "
        f"{rope:g}. Minority recall is shown for a configured class of interest and in "
        "imbalanced regimes.",
        "",
    ]
    for name, rows in summary.groupby("dataset", sort=False):
        table = markdown_table(
            [_result_cells(row) for row in rows.itertuples()],
            RESULT_COLUMNS,
            right=NUMERIC_RESULT_COLUMNS,
        )
        lines += [f"### {name}", "", table, ""]
    return lines


def _result_cells(row: Any) -> dict[str, str]:
    cells = [row.regime, row.classifier, row.arm, f"{row.n_train:.0f}", f"{row.n_synthetic:.0f}"]
    cells += [_mean_sd(row, m) for m in ("accuracy", "balanced_accuracy", "macro_f1")]
    cells.append(_mean_sd(row, "minority_recall") if row.minority_relevant else "–")
    if row.arm == BASELINE_ARM:
        cells += ["–", "–", "–", "–", "baseline"]
    else:
        cells.append(f"{100 * row.difference:+.1f}")
        cells += [f"{p:.3f}" for p in (row.p_worse, row.p_rope, row.p_better)]
        cells.append(row.verdict)
    return dict(zip(RESULT_COLUMNS, cells, strict=True))


def _mean_sd(row: Any, metric: str) -> str:
    return f"{getattr(row, f'{metric}_mean'):.3f} ± {getattr(row, f'{metric}_sd'):.3f}"


def _settings(arm_settings: Mapping, tuning: AugmentationTuningParameters) -> list[str]:
    rows = [
        {
            "data set": name,
            "regime": regime,
            "arm": arm,
            "trials": str(chosen["study"]["n_trials"]) if chosen["study"] else "–",
            "best objective": f"{chosen['study']['best_value']:.3f}" if chosen["study"] else "–",
            "settings": ", ".join(f"{key}={_short(v)}" for key, v in chosen["settings"].items()),
        }
        for name, regimes in arm_settings.items()
        for regime, arms in regimes.items()
        for arm, chosen in arms.items()
        if arm != BASELINE_ARM
    ]
    columns = ["data set", "regime", "arm", "trials", "best objective", "settings"]
    return [
        "## Settings each arm ran with",
        "",
        f"Tuned by Optuna on the tuning partition ({tuning.inner_splits} inner splits per "
        f"trial, objective: {tuning.metric} averaged over the classifiers); `{BASELINE_ARM}` "
        "has none. Trial 0 of each study is the configured settings.",
        "",
        markdown_table(rows, columns, right=["trials", "best objective"]),
        "",
    ]


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
