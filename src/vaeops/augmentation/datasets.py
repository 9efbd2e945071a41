"""Labelled data sets, low-data regimes and the splits of the augmentation study.

The only rows a generator or a scaler may see are those of one training set.
Everything here hands out index arrays, and every split is built so that the
indices it hands to training never meet the indices it scores on:

- a stratified *tuning partition* is set aside first; Optuna tunes the arms on
  it alone, so no row that is ever a test row influences a hyperparameter;
- the rest is the *evaluation pool*, cut by repeated stratified k-fold into
  training folds and test folds;
- a *regime* then subsamples a training fold (so many rows per class, a
  fraction, and optionally a downsampled minority class); the test fold is
  never subsampled, so every regime is scored on the data's natural mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as sklearn_datasets
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold, train_test_split

from vaeops.augmentation.settings import (
    AugmentationDatasetParameters,
    ProtocolParameters,
    RegimeParameters,
)
from vaeops.errors import DataError


@dataclass(frozen=True)
class LabelledData:
    """Features (float64) and class indices 0..n_classes-1, with what the report needs.

    ``minority_class`` is the configured class of interest, else the rarest one;
    ``minority_named`` says it was configured, so its recall matters in every
    regime rather than only in the imbalanced ones. Image data sets carry their
    ``image_shape`` and the two ``interpolation_classes`` the report morphs between.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    scaling: str
    minority_class: int = 0
    minority_named: bool = False
    image_shape: tuple[int, int] | None = None
    interpolation_classes: tuple[int, int] | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=self.n_classes).tolist()
        return dict(zip(self.class_names, counts, strict=True))


def load_dataset(name: str, spec: AugmentationDatasetParameters) -> LabelledData:
    """One entry of ``augmentation.datasets``; ``source`` says where its rows come from."""
    source = spec.source
    if source == "moons":
        x, labels = sklearn_datasets.make_moons(
            n_samples=int(spec.n_samples),
            noise=float(spec.noise),
            random_state=int(spec.seed),
        )
        class_names = ["upper moon", "lower moon"]
    elif source == "file":
        x, labels, class_names = _load_table(name, spec)
    else:
        bunch = getattr(sklearn_datasets, f"load_{source}")()
        x, labels, class_names = bunch.data, bunch.target, [str(c) for c in bunch.target_names]
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    image_shape = tuple(spec.image_shape) if spec.image_shape else None
    if image_shape is not None and int(np.prod(image_shape)) != x.shape[1]:
        raise DataError(
            f"augmentation.datasets.{name}.image_shape {list(image_shape)} does not hold its "
            f"{x.shape[1]} features; give the (height, width) of the images or null."
        )
    minority = spec.minority_class
    if minority is None:
        minority_class = int(np.argmin(np.bincount(labels, minlength=len(class_names))))
    else:
        minority_class = _class_index(name, "minority_class", minority, class_names)
    interpolation = None
    if image_shape is not None:
        ends = spec.interpolation_classes or class_names[:2]
        if len(ends) != 2:
            raise DataError(
                f"augmentation.datasets.{name}.interpolation_classes must name two classes, "
                f"got {ends}."
            )
        interpolation = tuple(
            _class_index(name, "interpolation_classes", end, class_names) for end in ends
        )
    return LabelledData(
        name=name,
        x=x,
        y=labels,
        class_names=class_names,
        scaling=spec.scaling,
        minority_class=minority_class,
        minority_named=minority is not None,
        image_shape=image_shape,
        interpolation_classes=interpolation,
    )


def _class_index(name: str, key: str, value: Any, class_names: list[str]) -> int:
    if str(value) not in class_names:
        raise DataError(
            f"augmentation.datasets.{name}.{key}: {value!r} is not one of the classes "
            f"{class_names}."
        )
    return class_names.index(str(value))


def _load_table(
    name: str, spec: AugmentationDatasetParameters
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = Path(spec.path or "")
    if not path.is_file():
        raise DataError(
            f"augmentation.datasets.{name}.path {str(path)!r} is not a file; give a CSV or "
            "Parquet file."
        )
    table = (
        pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    )
    label = spec.label
    if label not in table.columns:
        raise DataError(
            f"{path} has no label column {label!r} (augmentation.datasets.{name}.label); "
            f"its columns are {list(table.columns)}."
        )
    features = list(spec.features or [column for column in table.columns if column != label])
    missing = [column for column in features if column not in table.columns]
    if missing:
        raise DataError(
            f"{path} lacks the feature columns {missing}; its columns are {list(table.columns)}."
        )
    non_numeric = [
        column for column in features if not pd.api.types.is_numeric_dtype(table[column])
    ]
    if non_numeric:
        raise DataError(
            f"{path}: feature columns {non_numeric} are not numeric; encode them as numbers or "
            "leave them out of augmentation.datasets.<name>.features."
        )
    incomplete = table[[*features, label]].isna().any(axis=1)
    if incomplete.any():
        raise DataError(
            f"{path}: {int(incomplete.sum())} rows have missing values (first rows "
            f"{table.index[incomplete][:5].tolist()}); fill or remove them before the study."
        )
    classes, labels = np.unique(table[label].to_numpy(), return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{path}: the label column {label!r} has a single class; a classifier needs two "
            "or more."
        )
    return table[features].to_numpy(dtype=np.float64), labels, [str(c) for c in classes]


@dataclass(frozen=True)
class Regime:
    """A regime of ``augmentation.regimes`` with the name it goes by in the study."""

    name: str
    settings: RegimeParameters

    @property
    def imbalanced(self) -> bool:
        return self.settings.imbalanced


def subsample(
    indices: np.ndarray,
    y: np.ndarray,
    regime: Regime,
    minority_class: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The rows of ``indices`` (into ``y``) this regime trains on: a sorted subset of them."""
    labels, settings = y[indices], regime.settings
    kept = []
    for label in np.unique(labels):
        rows = indices[labels == label]
        wanted = (
            settings.per_class
            if settings.per_class is not None
            else max(1, round(settings.fraction * len(rows)))
        )
        if wanted > len(rows):
            raise DataError(
                f"regime {regime.name!r} needs {wanted} rows of class {label}, but this "
                "training set has "
                f"{len(rows)}; lower per_class, or for the tuning partition raise "
                "augmentation.protocol.tuning_fraction."
            )
        kept.append(rng.choice(rows, size=wanted, replace=False))
    if regime.imbalanced:
        largest = max(len(rows) for rows in kept)
        position = int(np.flatnonzero(np.unique(labels) == minority_class)[0])
        minority_count = round(settings.minority_ratio * largest)
        if minority_count < 2:
            raise DataError(
                f"regime {regime.name!r} leaves {minority_count} minority rows (ratio "
                f"{settings.minority_ratio} of {largest}); SMOTE and the CVAE's class statistics "
                "need at least 2, raise minority_ratio."
            )
        if minority_count > len(kept[position]):
            raise DataError(
                f"regime {regime.name!r} asks for {minority_count} minority rows (ratio "
                f"{settings.minority_ratio} of {largest}) but class {minority_class} has only "
                f"{len(kept[position])}; lower minority_ratio."
            )
        kept[position] = rng.choice(kept[position], size=minority_count, replace=False)
    return np.sort(np.concatenate(kept))


@dataclass(frozen=True)
class Split:
    repeat: int
    fold: int
    train: np.ndarray  # indices into the data set's rows
    test: np.ndarray


@dataclass(frozen=True)
class SplitPlan:
    tuning: np.ndarray
    evaluation: np.ndarray
    splits: list[Split]
    folds: int


def plan_splits(y: np.ndarray, protocol: ProtocolParameters) -> SplitPlan:
    """Tuning partition, then ``repeats`` x ``folds`` stratified splits of the rest; all seeded."""
    rows = np.arange(len(y))
    evaluation, tuning = train_test_split(
        rows, test_size=protocol.tuning_fraction, stratify=y, random_state=protocol.seed
    )
    evaluation, tuning = np.sort(evaluation), np.sort(tuning)
    folds = RepeatedStratifiedKFold(
        n_splits=protocol.folds, n_repeats=protocol.repeats, random_state=protocol.seed
    )
    splits = [
        Split(
            repeat=number // protocol.folds,
            fold=number % protocol.folds,
            train=evaluation[train],
            test=evaluation[test],
        )
        for number, (train, test) in enumerate(folds.split(evaluation, y[evaluation]))
    ]
    return SplitPlan(tuning=tuning, evaluation=evaluation, splits=splits, folds=protocol.folds)


def inner_splits(
    tuning: np.ndarray, y: np.ndarray, folds: int, n_splits: int, seed: int
) -> list[Split]:
    """Inner train/validation splits of the tuning partition, shaped like the outer ones
    (the training part is (folds - 1) / folds of it); the first ``n_splits`` of one
    stratified k-fold pass, so the validation parts never overlap."""
    if n_splits > folds:
        raise ValueError(
            f"augmentation.tuning.inner_splits ({n_splits}) cannot exceed protocol.folds ({folds})."
        )
    cutter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pairs = list(cutter.split(tuning, y[tuning]))[:n_splits]
    return [
        Split(repeat=0, fold=k, train=tuning[train], test=tuning[test])
        for k, (train, test) in enumerate(pairs)
    ]


@dataclass(frozen=True)
class Scaler:
    """Feature scaling fitted on one training set: ``standardize`` per feature
    (constant features keep unit scale), ``unit_interval`` by the training set's
    overall min and max, which keeps an image's pixels comparable."""

    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, scaling: str) -> Scaler:
        if scaling == "standardize":
            spread = x.std(axis=0)
            return cls(offset=x.mean(axis=0), scale=np.where(spread > 0, spread, 1.0))
        low, high = float(x.min()), float(x.max())
        width = high - low if high > low else 1.0
        return cls(offset=np.full(x.shape[1], low), scale=np.full(x.shape[1], width))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.offset) / self.scale
