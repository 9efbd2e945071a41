"""Splits of the study, run for every arm and classifier.

``run_splits_together`` is the only place where rows become training data: for
each split it subsamples the training indices by the regime, fits the scaler on
those rows alone, hands exactly those scaled rows to the augmenter and scores
on the split's test rows. Tuning scores its candidates with ``validation_score``,
which runs the same function on inner splits of the tuning partition, so tuning
and evaluation cannot drift apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from vaeops.augmentation.arms import augment, fit_predict, score
from vaeops.augmentation.datasets import LabelledData, Regime, Scaler, Split, subsample
from vaeops.schema import Block

# Keeps the seeds of the tuning splits apart from those of the evaluation splits.
TUNING_SALT = 1


@dataclass(frozen=True)
class Experiment:
    """A data set in one regime, with the classifiers every arm is scored by
    (the regime's MLP overrides already applied) and the study's base seed."""

    data: LabelledData
    regime: Regime
    classifiers: Mapping[str, Block]  # by name: its settings
    seed: int


def split_seed(base_seed: int, split: Split, salt: int = 0) -> int:
    """The seed of one split: subsampling, augmenters and classifiers all use it,
    so every arm sees the same real rows and starts its classifier the same way."""
    return int(
        np.random.SeedSequence([base_seed, salt, split.repeat, split.fold]).generate_state(1)[0]
    )


def training_rows(experiment: Experiment, split: Split, seed: int) -> np.ndarray:
    """The regime's subset of the split's training indices."""
    data = experiment.data
    return subsample(
        split.train, data.y, experiment.regime, data.minority_class, np.random.default_rng(seed)
    )


def run_splits_together(
    experiment: Experiment,
    splits: list[Split],
    arms: Mapping[str, Block],
    seeds: list[int],
) -> list[dict]:
    """Scores of every arm x classifier on each split (one row each); the splits'
    generators and MLPs are trained side by side, each on its own split's rows."""
    data = experiment.data
    rows = [
        training_rows(experiment, split, seed) for split, seed in zip(splits, seeds, strict=True)
    ]
    scalers = [Scaler.fit(data.x[kept], data.scaling) for kept in rows]
    x_trains = [scaler.transform(data.x[kept]) for scaler, kept in zip(scalers, rows, strict=True)]
    y_trains = [data.y[kept] for kept in rows]
    x_tests = [
        scaler.transform(data.x[split.test]) for scaler, split in zip(scalers, splits, strict=True)
    ]
    results = []
    for arm, settings in arms.items():
        training = augment(arm, x_trains, y_trains, data.n_classes, settings, seeds, data.scaling)
        for classifier, classifier_settings in experiment.classifiers.items():
            predictions = fit_predict(
                classifier, classifier_settings, training, x_tests, data.n_classes, seeds
            )
            for split, kept, (_, y_fit), predicted in zip(
                splits, rows, training, predictions, strict=True
            ):
                results.append(
                    {
                        "dataset": data.name,
                        "regime": experiment.regime.name,
                        "arm": arm,
                        "classifier": classifier,
                        "repeat": split.repeat,
                        "fold": split.fold,
                        "n_train": len(kept),
                        "n_synthetic": len(y_fit) - len(kept),
                        "n_test": len(split.test),
                        "n_train_fold": len(split.train),
                        **score(data.y[split.test], predicted, data.n_classes, data.minority_class),
                    }
                )
    return results


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Small models run fastest on one thread; parallelism comes from splits side by side."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def _run_single_threaded(experiment, splits, arms, seeds) -> list[dict]:
    with single_threaded():
        return run_splits_together(experiment, splits, arms, seeds)


def run_splits(
    experiment: Experiment,
    splits: Iterable[Split],
    arms: Mapping[str, Block],
    splits_per_task: int,
    n_jobs: int,
    salt: int = 0,
    description: str | None = None,
) -> list[dict]:
    """All splits, ``splits_per_task`` at a time per task, ``n_jobs`` tasks at once
    (processes), with a progress bar when described."""
    splits = list(splits)
    chunks = [
        splits[start : start + splits_per_task] for start in range(0, len(splits), splits_per_task)
    ]
    tasks = [
        delayed(_run_single_threaded)(
            experiment, chunk, arms, [split_seed(experiment.seed, split, salt) for split in chunk]
        )
        for chunk in chunks
    ]
    if n_jobs == 1 or len(tasks) == 1:
        results: Iterable[list[dict]] = (
            function(*args, **kwargs) for function, args, kwargs in tasks
        )
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    if description:
        results = tqdm(results, total=len(tasks), desc=description, unit="task", dynamic_ncols=True)
    return [row for rows in results for row in rows]


def validation_score(
    experiment: Experiment,
    splits: list[Split],
    arm: str,
    settings: Block,
    metric: str,
) -> float:
    """What tuning maximises: ``metric`` of the arm with these settings on the
    validation rows of the inner splits, averaged over the splits and the classifiers."""
    scores = run_splits(
        experiment, splits, {arm: settings}, len(splits), n_jobs=1, salt=TUNING_SALT
    )
    return float(np.mean([row[metric] for row in scores]))
