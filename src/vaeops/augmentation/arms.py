"""The augmentation arms, the classifiers they feed and the metrics they are scored by.

Every augmenter is called with the scaled rows of a training set, nothing else
(the CVAE with those of several splits at once, one array per split), and returns
only synthetic rows; ``augment`` stacks them under the real ones. All arms use one rule for how
many rows to add, so they differ only in how the rows are made: after
augmentation every class holds ``round((1 + ratio) * size of the largest real
class)`` rows. On balanced data that adds ``ratio`` times each class; on
imbalanced data it first fills the smaller classes up, as SMOTE is usually used.
"""

from __future__ import annotations

import logging

import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

from vaeops.augmentation.classifiers import fit_mlps
from vaeops.augmentation.cvae import FittedCVAE, fit_cvaes
from vaeops.augmentation.settings import (
    BASELINE_ARM,
    CLASSIFIERS,
    CvaeSettings,
    LogisticRegressionParameters,
    MlpParameters,
    NoiseSettings,
    SmoteSettings,
)

logger = logging.getLogger(__name__)

LIKELIHOOD_BY_SCALING = {"unit_interval": "bernoulli", "standardize": "gaussian"}
# Rounds of sampling before the confidence filter gives up on a class that the
# real-data classifier keeps rejecting; the shortfall is logged and counted.
MAX_FILTER_ROUNDS = 10
# The confidence filter's judge: a logistic regression fitted on the real rows alone.
JUDGE_C, JUDGE_MAX_ITER = 1.0, 1000


def synthetic_counts(labels: np.ndarray, n_classes: int, ratio: float) -> np.ndarray:
    """Synthetic rows to add per class (see the module docstring)."""
    if ratio < 0:
        raise ValueError(f"the synthetic-to-real ratio must be >= 0, got {ratio}.")
    counts = np.bincount(labels, minlength=n_classes)
    target = round((1.0 + ratio) * counts.max())
    return np.where(counts > 0, target - counts, 0)


def noise_rows(
    x: np.ndarray, y: np.ndarray, n_classes: int, settings: NoiseSettings, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Real rows of the class, drawn with replacement, plus Gaussian noise of
    ``scale`` times each feature's standard deviation in the training set."""
    rng = np.random.default_rng(seed)
    counts = synthetic_counts(y, n_classes, settings.ratio)
    sources = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), size=n, replace=True)
            for c, n in enumerate(counts)
            if n
        ]
        or [np.empty(0, dtype=np.int64)]
    )
    jitter = rng.standard_normal((len(sources), x.shape[1])) * (settings.scale * x.std(axis=0))
    return x[sources] + jitter, y[sources]


def smote_rows(
    x: np.ndarray, y: np.ndarray, n_classes: int, settings: SmoteSettings, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE with a target count per class, so that it also adds rows to balanced data.
    ``k_neighbors`` is capped at the smallest class's size minus one."""
    counts = np.bincount(y, minlength=n_classes)
    present = np.flatnonzero(counts)
    if counts[present].min() < 2:
        raise ValueError("SMOTE needs at least 2 rows of every class in the training set.")
    targets = counts + synthetic_counts(y, n_classes, settings.ratio)
    neighbours = min(int(settings.k_neighbors), int(counts[present].min()) - 1)
    sampler = SMOTE(
        sampling_strategy={int(c): int(targets[c]) for c in present},
        k_neighbors=neighbours,
        random_state=seed,
    )
    resampled_x, resampled_y = sampler.fit_resample(x, y)
    # imbalanced-learn returns the real rows first, unchanged, then the synthetic ones.
    return resampled_x[len(x) :], resampled_y[len(x) :]


def cvae_rows(
    xs: list[np.ndarray],
    labels: list[np.ndarray],
    n_classes: int,
    settings: CvaeSettings,
    seeds: list[int],
    likelihood: str,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows decoded by a conditional VAE fitted on each training set. With
    ``min_confidence``, only rows that a logistic regression fitted on the same
    real rows gives at least that probability of their intended class are kept."""
    generators = fit_cvaes(xs, labels, n_classes, settings, likelihood, seeds)
    return [
        _draw(generator, x, y, n_classes, settings, seed)
        for generator, x, y, seed in zip(generators, xs, labels, seeds, strict=True)
    ]


def _draw(
    generator: FittedCVAE,
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    settings: CvaeSettings,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    counts = synthetic_counts(y, n_classes, settings.ratio)
    wanted = np.repeat(np.arange(n_classes), counts)

    def draw(draw_labels: np.ndarray, round_number: int) -> np.ndarray:
        return generator.sample(
            draw_labels, settings.sampling, tau=float(settings.tau), seed=seed + round_number
        ).astype(np.float64)

    if settings.min_confidence is None or not len(wanted):
        return draw(wanted, 0), wanted
    judge = LogisticRegression(C=JUDGE_C, max_iter=JUDGE_MAX_ITER).fit(x, y)
    kept_x, kept_y = [], []
    for round_number in range(MAX_FILTER_ROUNDS):
        if not len(wanted):
            break
        candidates = draw(wanted, round_number)
        confidence = judge.predict_proba(candidates)[
            np.arange(len(wanted)), np.searchsorted(judge.classes_, wanted)
        ]
        accepted = confidence >= settings.min_confidence
        kept_x.append(candidates[accepted])
        kept_y.append(wanted[accepted])
        wanted = wanted[~accepted]
    if len(wanted):
        logger.warning(
            "confidence filter: %d of %d synthetic rows still rejected after %d rounds; "
            "training on fewer",
            len(wanted),
            int(counts.sum()),
            MAX_FILTER_ROUNDS,
        )
    return np.concatenate(kept_x), np.concatenate(kept_y)


# Augmenters of one training set at a time; the CVAE trains the splits' generators side by side.
AUGMENTERS = {"noise": noise_rows, "smote": smote_rows}


def augment(
    arm: str,
    xs: list[np.ndarray],
    labels: list[np.ndarray],
    n_classes: int,
    settings: NoiseSettings | SmoteSettings | CvaeSettings | None,
    seeds: list[int],
    scaling: str,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training rows of an arm for each training set: its real rows, then its synthetic rows."""
    if arm == BASELINE_ARM:
        return list(zip(xs, labels, strict=True))
    if arm == "cvae":
        synthetic = cvae_rows(
            xs, labels, n_classes, settings, seeds, LIKELIHOOD_BY_SCALING[scaling]
        )
    else:
        synthetic = [
            AUGMENTERS[arm](x, y, n_classes, settings, seed)
            for x, y, seed in zip(xs, labels, seeds, strict=True)
        ]
    return [
        (np.vstack([x, new_x]), np.concatenate([y, new_y]))
        for x, y, (new_x, new_y) in zip(xs, labels, synthetic, strict=True)
    ]


def fit_predict(
    classifier: str,
    settings: MlpParameters | LogisticRegressionParameters,
    training: list[tuple[np.ndarray, np.ndarray]],
    x_tests: list[np.ndarray],
    n_classes: int,
    seeds: list[int],
) -> list[np.ndarray]:
    """Predicted classes of each test set by a classifier fitted on the matching training
    set; the seeds are the splits', the same in every arm."""
    if classifier == "mlp":
        networks = fit_mlps(
            [x for x, _ in training],
            [y for _, y in training],
            n_classes,
            settings,
            seeds,
        )
        return [network.predict(x_test) for network, x_test in zip(networks, x_tests, strict=True)]
    if classifier == "logistic_regression":
        return [
            _logistic_regression(settings).fit(x, y).predict(x_test)
            for (x, y), x_test in zip(training, x_tests, strict=True)
        ]
    raise ValueError(f"Unknown classifier {classifier!r}; choose from {CLASSIFIERS}.")


def _logistic_regression(settings: LogisticRegressionParameters) -> LogisticRegression:
    return LogisticRegression(C=float(settings.C), max_iter=int(settings.max_iter))


def score(
    labels: np.ndarray, predicted: np.ndarray, n_classes: int, minority_class: int
) -> dict[str, float]:
    classes = list(range(n_classes))
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)
        ),
        "minority_recall": float(
            recall_score(
                labels, predicted, labels=[minority_class], average="macro", zero_division=0
            )
        ),
    }
