"""Each arm against `none`: split-by-split pairing, the correlated t-test's numbers worked
out by hand, and verdicts that follow the probabilities."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vaeops.augmentation.comparison import compare_arms, verdict
from vaeops.augmentation.settings import StatisticsParameters

STATISTICS = StatisticsParameters(metric="accuracy", rope=0.01, decision_probability=0.95)
BASELINE = np.array([0.80, 0.82, 0.78, 0.80, 0.80])
GAIN = np.array([0.05, 0.06, 0.04, 0.05, 0.05])
SUMMARY_COLUMNS = [
    "dataset",
    "regime",
    "classifier",
    "arm",
    "n_train",
    "n_synthetic",
    "n_splits",
    "minority_relevant",
    *(
        f"{metric}_{stat}"
        for metric in ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall")
        for stat in ("mean", "sd")
    ),
    "verdict",
    "difference",
    "p_worse",
    "p_rope",
    "p_better",
]


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ((0.0, 0.02, 0.98), "helped"),
        ((0.97, 0.03, 0.0), "hurt"),
        ((0.01, 0.96, 0.03), "equivalent"),
        ((0.1, 0.6, 0.3), "inconclusive"),
        ((0.0, 0.05, 0.95), "inconclusive"),  # the threshold must be exceeded
    ],
)
def test_verdicts_follow_the_probabilities(probabilities, expected):
    assert verdict(*probabilities, decision_probability=0.95) == expected


def split_scores(accuracies: dict[str, np.ndarray]) -> pd.DataFrame:
    """One data set, regime and classifier; 1 x 5 splits of 80 training and 20 test rows."""
    return pd.DataFrame(
        [
            {
                "dataset": "moons",
                "regime": "full",
                "arm": arm,
                "classifier": "mlp",
                "repeat": 0,
                "fold": fold,
                "n_train": 80,
                "n_synthetic": 0 if arm == "none" else 80,
                "n_test": 20,
                "n_train_fold": 80,
                "accuracy": value,
                "balanced_accuracy": value,
                "macro_f1": value,
                "minority_recall": 1.0 - value,
            }
            for arm, values in accuracies.items()
            for fold, value in enumerate(values)
        ]
    )


def test_each_arm_is_compared_with_none_on_the_same_splits():
    scores = split_scores(
        {"none": BASELINE, "noise": BASELINE + GAIN, "smote": BASELINE, "cvae": BASELINE - GAIN}
    )
    # The pairing must follow the splits, not the order of the rows.
    shuffled = scores.sample(frac=1.0, random_state=0)
    result = compare_arms(shuffled, {("moons", "full"): False}, STATISTICS)
    summary = result["summary"].set_index("arm")

    # Benavoli et al.: mean 0.05; sample variance 0.00005; rho = 20 / (80 + 20) = 0.2;
    # scale^2 = (1/5 + 0.2/0.8) * 0.00005 = 0.0000225; Student t with 4 dof.
    posterior = stats.t(df=4, loc=0.05, scale=np.sqrt(0.0000225))
    assert summary.loc["noise", "difference"] == pytest.approx(0.05)
    assert summary.loc["noise", "p_better"] == pytest.approx(posterior.sf(0.01))
    assert summary.loc["noise", "p_worse"] == pytest.approx(posterior.cdf(-0.01))
    assert summary.loc["noise", "verdict"] == "helped"
    assert summary.loc["cvae", "verdict"] == "hurt"
    assert summary.loc["cvae", "p_worse"] == pytest.approx(posterior.sf(0.01))
    # Identical scores on every split: all the posterior lies inside the ROPE.
    assert summary.loc["smote", "p_rope"] == 1.0 and summary.loc["smote", "verdict"] == "equivalent"
    assert summary.loc["none", "verdict"] == "baseline"
    assert np.isnan(summary.loc["none", "p_better"])

    assert summary.loc["none", "accuracy_mean"] == pytest.approx(0.80)
    assert summary.loc["none", "accuracy_sd"] == pytest.approx(np.sqrt(0.0008 / 4))
    assert summary.loc["none", "minority_recall_mean"] == pytest.approx(0.20)
    assert summary.loc["noise", "n_synthetic"] == 80 and summary.loc["noise", "n_splits"] == 5
    assert not summary["minority_relevant"].any()
    # results.csv keeps its layout when `none` is scored first, as in every run
    unshuffled = compare_arms(scores, {("moons", "full"): False}, STATISTICS)["summary"]
    assert list(unshuffled.columns) == SUMMARY_COLUMNS
    pd.testing.assert_frame_equal(
        unshuffled.set_index("arm").loc[summary.index], summary[unshuffled.columns.drop("arm")]
    )

    tests = result["tests"]
    assert len(tests) == 3 * 4  # three arms x four metrics
    recall = tests[(tests["arm"] == "noise") & (tests["metric"] == "minority_recall")].iloc[0]
    assert recall["mean_difference"] == pytest.approx(-0.05) and recall["correlation"] == 0.2


def test_an_arm_scored_on_other_splits_than_none_is_refused():
    scores = split_scores({"none": BASELINE, "noise": BASELINE + GAIN})
    scores = scores.drop(index=scores[(scores["arm"] == "noise") & (scores["fold"] == 4)].index)
    with pytest.raises(RuntimeError, match="noise and none were not scored on the same splits"):
        compare_arms(scores, {("moons", "full"): False}, STATISTICS)
