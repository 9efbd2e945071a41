"""Each arm against `none`, split by split, and the verdict that follows.

The arms were scored on the same splits with the same seeds, so an arm's score
on a split is paired with the baseline's on that split; the pairs go to the
Bayesian correlated t-test (``vaeops.statistics.correlated_cv``), whose
posterior probabilities decide the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from vaeops.augmentation.settings import BASELINE_ARM, METRICS, StatisticsParameters
from vaeops.statistics.correlated_cv import (
    CorrelatedTTest,
    correlated_t_test,
    nadeau_bengio_correlation,
)

VERDICTS = ("helped", "equivalent", "hurt", "inconclusive")
SPLIT_KEYS = ["repeat", "fold"]


def verdict(p_worse: float, p_rope: float, p_better: float, decision_probability: float) -> str:
    """helped / hurt / equivalent when that posterior probability exceeds the threshold,
    else inconclusive."""
    if p_better > decision_probability:
        return "helped"
    if p_worse > decision_probability:
        return "hurt"
    if p_rope > decision_probability:
        return "equivalent"
    return "inconclusive"


def compare_arms(
    scores: pd.DataFrame,
    minority_relevant: Mapping[tuple[str, str], bool],
    statistics: StatisticsParameters,
) -> dict[str, pd.DataFrame]:
    """Mean and sd per metric, and each arm against `none` split by split.

    ``scores`` has one row per data set x regime x split x arm x classifier;
    ``minority_relevant`` says, per (data set, regime), whether minority recall is
    reported. ``summary`` has one row per data set x regime x classifier x arm with
    the probabilities for ``statistics.metric`` and the verdict they give;
    ``tests`` has the probabilities for every metric.
    """
    summary_rows, test_rows = [], []
    for (name, regime, classifier), group in scores.groupby(
        ["dataset", "regime", "classifier"], sort=False
    ):
        baseline = group[group["arm"] == BASELINE_ARM].sort_values(SPLIT_KEYS)
        for arm, rows in group.groupby("arm", sort=False):
            rows = rows.sort_values(SPLIT_KEYS)
            key = {"dataset": name, "regime": regime, "classifier": classifier, "arm": arm}
            row = {
                **key,
                "n_train": rows["n_train"].mean(),
                "n_synthetic": rows["n_synthetic"].mean(),
                "n_splits": len(rows),
                "minority_relevant": minority_relevant[(name, regime)],
            }
            for metric in METRICS:
                row[f"{metric}_mean"] = rows[metric].mean()
                row[f"{metric}_sd"] = rows[metric].std(ddof=1)
            if arm == BASELINE_ARM:
                row["verdict"] = "baseline"
            else:
                tests = paired_tests(rows, baseline, statistics.rope)
                test_rows += [
                    {**key, "metric": metric, **test.to_dict()} for metric, test in tests.items()
                ]
                decisive = tests[statistics.metric]
                row.update(
                    difference=decisive.mean_difference,
                    p_worse=decisive.p_worse,
                    p_rope=decisive.p_rope,
                    p_better=decisive.p_better,
                    verdict=verdict(
                        decisive.p_worse,
                        decisive.p_rope,
                        decisive.p_better,
                        statistics.decision_probability,
                    ),
                )
            summary_rows.append(row)
    return {"summary": pd.DataFrame(summary_rows), "tests": pd.DataFrame(test_rows)}


def paired_tests(
    arm: pd.DataFrame, baseline: pd.DataFrame, rope: float
) -> dict[str, CorrelatedTTest]:
    """The correlated t-test of every metric; both frames sorted by split."""
    first = arm.iloc[0]
    if not np.array_equal(arm[SPLIT_KEYS].to_numpy(), baseline[SPLIT_KEYS].to_numpy()):
        raise RuntimeError(
            f"{first['dataset']}/{first['regime']}: arm {first['arm']} and {BASELINE_ARM} were "
            "not scored on the same splits; the paired test needs both on every split."
        )
    correlation = nadeau_bengio_correlation(int(first["n_train_fold"]), int(first["n_test"]))
    return {
        metric: correlated_t_test(
            arm[metric].to_numpy(), baseline[metric].to_numpy(), rope=rope, correlation=correlation
        )
        for metric in METRICS
    }
