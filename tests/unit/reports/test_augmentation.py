"""The markdown report: sentences and tables read from a hand-made summary."""

import numpy as np
import pandas as pd

from tests.helpers.augmentation_settings import augmentation_parameters, augmentation_settings
from vaeops.reports.augmentation import markdown_table, report_markdown


def report_parameters() -> dict:
    """The shipped settings with 2 x 5 splits, as the sentences below read them."""
    params = augmentation_parameters()
    params["protocol"].update(repeats=2, folds=5, tuning_fraction=0.2)
    params["statistics"].update(metric="accuracy", rope=0.01, decision_probability=0.95)
    params["tuning"].update(inner_splits=3, metric="balanced_accuracy")
    return params


AUGMENTATION = augmentation_settings(report_parameters())
ARM_SETTINGS = {
    "moons": {
        "full": {
            "none": {"settings": {}, "study": None},
            "noise": {
                "settings": {"ratio": 1.5, "scale": 0.123456},
                "study": {"n_trials": 6, "best_value": 0.81234},
            },
            "smote": {"settings": {"ratio": 1.0, "k_neighbors": 5}, "study": None},
        }
    }
}


def summary_row(regime: str, arm: str, verdict: str, difference: float, **overrides) -> dict:
    baseline = arm == "none"
    row = {
        "dataset": "moons",
        "regime": regime,
        "classifier": "mlp",
        "arm": arm,
        "n_train": 20.0,
        "n_synthetic": 0.0 if baseline else 20.0,
        "minority_relevant": regime == "imbalanced",
        "verdict": verdict,
        "difference": np.nan if baseline else difference,
        "p_worse": np.nan if baseline else 0.01,
        "p_rope": np.nan if baseline else 0.02,
        "p_better": np.nan if baseline else 0.97,
    }
    for metric in ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall"):
        row[f"{metric}_mean"], row[f"{metric}_sd"] = 0.8, 0.05
    return {**row, **overrides}


SUMMARY = pd.DataFrame(
    [
        summary_row("full", "none", "baseline", np.nan),
        summary_row("full", "noise", "helped", 0.05),
        summary_row("full", "smote", "equivalent", -0.001, p_rope=0.99, p_better=0.0),
        summary_row("imbalanced", "none", "baseline", np.nan),
        summary_row("imbalanced", "noise", "inconclusive", 0.02, p_better=0.6),
    ]
)


def tables(markdown: str) -> list[pd.DataFrame]:
    """Every pipe table of a markdown text, its cells as text."""
    found, block = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            header, _alignment, *rows = block
            found.append(pd.DataFrame(rows, columns=header))
            block = []
    return found


def test_the_report_counts_and_names_the_verdicts():
    report = report_markdown(SUMMARY, ARM_SETTINGS, {"moons.png": "Moons"}, AUGMENTATION)
    assert "the same 2 × 5 repeated stratified splits (10 test folds)" in report
    assert (
        "Of 3 comparisons (data set × regime × classifier × arm) augmentation helped in 1, "
        "was equivalent in 1, hurt in 0, was inconclusive in 1." in report
    )
    assert "- It **helped**: moons full, noise with mlp (+5.0 points, P = 0.97)." in report
    assert "- It **hurt**: nowhere." in report
    assert "![Test accuracy against training-set size](augmentation/accuracy_vs_size.png)" in report
    assert "![Moons](augmentation/generator/moons.png)\n\n*Moons.*" in report


def test_the_report_tables_hold_the_summary():
    verdicts, results, settings = tables(report_markdown(SUMMARY, ARM_SETTINGS, {}, AUGMENTATION))
    assert verdicts.to_dict("records") == [
        {
            "data set": "moons",
            "regime": "full",
            "noise (mlp)": "helped (+5.0)",
            "smote (mlp)": "equivalent (-0.1)",
        },
        {
            "data set": "moons",
            "regime": "imbalanced",
            "noise (mlp)": "inconclusive (+2.0)",
            "smote (mlp)": "–",
        },
    ]
    results = results.set_index(["regime", "arm"])
    assert results.loc[("full", "noise")].to_dict() == {
        "classifier": "mlp",
        "real rows": "20",
        "synthetic": "20",
        "accuracy": "0.800 ± 0.050",
        "balanced acc.": "0.800 ± 0.050",
        "macro-F1": "0.800 ± 0.050",
        "minority recall": "–",
        "Δ": "+5.0",
        "P(worse)": "0.010",
        "P(equiv.)": "0.020",
        "P(better)": "0.970",
        "verdict": "helped",
    }
    assert results.loc[("imbalanced", "noise"), "minority recall"] == "0.800 ± 0.050"
    assert results.loc[("full", "none"), ["Δ", "P(better)", "verdict"]].tolist() == [
        "–",
        "–",
        "baseline",
    ]
    assert settings.to_dict("records") == [
        {
            "data set": "moons",
            "regime": "full",
            "arm": "noise",
            "trials": "6",
            "best objective": "0.812",
            "settings": "ratio=1.5, scale=0.123",
        },
        {
            "data set": "moons",
            "regime": "full",
            "arm": "smote",
            "trials": "–",
            "best objective": "–",
            "settings": "ratio=1, k_neighbors=5",
        },
    ]


def test_markdown_tables_keep_cells_as_written_and_align_numbers_right():
    table = markdown_table([{"arm": "noise", "Δ": "+1.0"}], ["arm", "Δ"], right=["Δ"])
    assert table.splitlines() == ["| arm   |    Δ |", "|:------|-----:|", "| noise | +1.0 |"]
