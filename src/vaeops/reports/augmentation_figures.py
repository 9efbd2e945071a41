"""Pictures of the augmentation study: the decision metric against training-set size,
and views of what the generators made.

The generator views redraw what the arms trained on in the first split of each
regime: the same rows, the same tuned settings and the same seed as in the
evaluation, so a picture shows the synthetic data that was scored. Figures are
made without pyplot, so drawing them leaves no global figure state behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vaeops.augmentation.arms import LIKELIHOOD_BY_SCALING, augment
from vaeops.augmentation.cvae import FittedCVAE, fit_cvae
from vaeops.augmentation.datasets import LabelledData, Scaler, plan_splits
from vaeops.augmentation.protocol import single_threaded, split_seed, training_rows
from vaeops.augmentation.settings import (
    BASELINE_ARM,
    AugmentationParameters,
    CvaeSettings,
    arm_settings,
)
from vaeops.augmentation.study import experiment_for
from vaeops.reports.augmentation import METRIC_LABELS

ARM_COLOURS = {"none": "black", "noise": "tab:blue", "smote": "tab:orange", "cvae": "tab:green"}

# Per regime: the scaled training rows of its first evaluation split, their labels, the seed.
FirstSplits = Mapping[str, tuple[np.ndarray, np.ndarray, int]]


def _panels(n_rows: int, n_columns: int, figsize: tuple[float, float], **shared) -> tuple:
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots(n_rows, n_columns, squeeze=False, **shared)


def accuracy_by_size(summary: pd.DataFrame, metric: str, left_out_regimes: set[str]) -> Figure:
    """The decision metric against the real training-set size, one line per arm;
    imbalanced regimes are left out, their size is not the point."""
    sized = summary[~summary["regime"].isin(left_out_regimes)]
    datasets, classifiers = (
        list(dict.fromkeys(sized["dataset"])),
        list(dict.fromkeys(sized["classifier"])),
    )
    figure, axes = _panels(
        len(classifiers), len(datasets), (4.2 * len(datasets), 3.4 * len(classifiers))
    )
    arms = list(dict.fromkeys(sized["arm"]))
    for row, classifier in enumerate(classifiers):
        for column, name in enumerate(datasets):
            axis = axes[row, column]
            for offset, arm in enumerate(arms):
                points = sized[
                    (sized["dataset"] == name)
                    & (sized["classifier"] == classifier)
                    & (sized["arm"] == arm)
                ].sort_values("n_train")
                # Arms side by side around each size, so their error bars do not hide each other.
                shift = 1.0 + 0.04 * (offset - (len(arms) - 1) / 2)
                axis.errorbar(
                    points["n_train"] * shift,
                    points[f"{metric}_mean"],
                    yerr=points[f"{metric}_sd"],
                    marker="o",
                    markersize=4,
                    capsize=2,
                    linewidth=1.2,
                    label=arm,
                    color=ARM_COLOURS.get(arm),
                )
            axis.set_xscale("log")
            sizes = sized[sized["dataset"] == name].groupby("regime", sort=False)["n_train"].mean()
            axis.set_xticks(
                sizes.to_numpy(),
                [f"{size:.0f}\n{regime}" for regime, size in sizes.items()],
                fontsize=8,
            )
            axis.minorticks_off()
            axis.set_title(f"{name} — {classifier}", fontsize=10)
            axis.set_xlabel("real training rows (log scale)")
            axis.set_ylabel(f"{METRIC_LABELS[metric]} (mean ± sd)")
            axis.grid(alpha=0.3)
    axes[0, 0].legend(title="arm", fontsize=8)
    figure.suptitle(f"Test {METRIC_LABELS[metric]} against training-set size, per arm", fontsize=11)
    return figure


def generator_views(
    datasets: Mapping[str, LabelledData], chosen: Mapping, augmentation: AugmentationParameters
) -> dict[str, dict[str, Any]]:
    """Real and synthetic digits, a latent interpolation strip (image data sets) and
    real vs synthetic points (2-D data sets). Returns ``figures`` ({file name: figure})
    and ``captions`` ({file name: caption}) for the report."""
    with single_threaded():
        return _generator_views(datasets, _checked(chosen), augmentation)


def _checked(chosen: Mapping) -> dict:
    """Per data set, regime and arm: the settings model of what tuning chose."""
    return {
        name: {
            regime: {arm: arm_settings(arm, entry["settings"]) for arm, entry in arms.items()}
            for regime, arms in regimes.items()
        }
        for name, regimes in chosen.items()
    }


def _generator_views(
    datasets: Mapping[str, LabelledData], chosen: Mapping, augmentation: AugmentationParameters
) -> dict[str, dict[str, Any]]:
    figures, captions = {}, {}
    settings = augmentation.figures
    for name, data in datasets.items():
        regimes = augmentation.datasets[name].regimes
        training = {regime: _first_split_training(data, regime, augmentation) for regime in regimes}
        if data.image_shape is not None and "cvae" in augmentation.selected_arms:
            generators = {
                regime: _fit_first_split_cvae(data, x, y, chosen[name][regime]["cvae"], seed)
                for regime, (x, y, seed) in training.items()
            }
            file = f"{name}_real_and_synthetic.png"
            figures[file] = _sample_grid(
                data, training, generators, chosen[name], settings.samples_per_class
            )
            captions[file] = (
                f"{name}: real training images (left) and CVAE samples (right) per class, "
                "first split of each regime, tuned settings"
            )
            file = f"{name}_interpolation.png"
            figures[file] = _interpolation_strip(
                data, training, generators, settings.interpolation_steps
            )
            first, second = (data.class_names[c] for c in data.interpolation_classes)
            captions[file] = (
                f"{name}: CVAE decoder along the straight line between the encodings of a "
                f"training {first} and a training {second} (the label is interpolated too)"
            )
        if data.x.shape[1] == 2:
            file = f"{name}_real_and_synthetic.png"
            figures[file] = _points_2d(data, training, chosen[name], augmentation.selected_arms)
            captions[file] = (
                f"{name}: real training points (filled) and each arm's synthetic points (crosses), "
                "standardised features, first split of each regime"
            )
    return {"figures": figures, "captions": captions}


def _first_split_training(
    data: LabelledData, regime: str, augmentation: AugmentationParameters
) -> tuple[np.ndarray, np.ndarray, int]:
    """The scaled training rows of the first evaluation split, as run_splits_together
    builds them."""
    experiment = experiment_for(data, regime, augmentation)
    split = plan_splits(data.y, augmentation.protocol).splits[0]
    seed = split_seed(experiment.seed, split)
    rows = training_rows(experiment, split, seed)
    x = Scaler.fit(data.x[rows], data.scaling).transform(data.x[rows])
    return x, data.y[rows], seed


def _fit_first_split_cvae(
    data: LabelledData, x: np.ndarray, y: np.ndarray, settings: CvaeSettings, seed: int
) -> FittedCVAE:
    return fit_cvae(x, y, data.n_classes, settings, LIKELIHOOD_BY_SCALING[data.scaling], seed)


def _sample_grid(
    data: LabelledData,
    training: FirstSplits,
    generators: Mapping[str, FittedCVAE],
    chosen: Mapping,
    per_class: int,
) -> Figure:
    height, width = data.image_shape
    canvas_shape = (data.n_classes * (height + 1), (2 * per_class + 1) * (width + 1))
    panel_width = 3.6
    figure, axes = _panels(
        1,
        len(training),
        (
            panel_width * len(training),
            panel_width * canvas_shape[0] / canvas_shape[1] + 0.7,
        ),
    )
    for axis, (regime, (x, y, seed)) in zip(axes[0], training.items(), strict=True):
        settings = chosen[regime]["cvae"]
        labels = np.repeat(np.arange(data.n_classes), per_class)
        synthetic = generators[regime].sample(
            labels, settings.sampling, tau=settings.tau, seed=seed
        )
        canvas = np.full(canvas_shape, np.nan)
        for label in range(data.n_classes):
            real = x[y == label][:per_class]
            fake = synthetic[labels == label]
            top = label * (height + 1)
            for k, image in enumerate(real):
                canvas[top : top + height, k * (width + 1) : k * (width + 1) + width] = (
                    image.reshape(height, width)
                )
            for k, image in enumerate(fake):
                left = (per_class + 1 + k) * (width + 1)
                canvas[top : top + height, left : left + width] = image.reshape(height, width)
        axis.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        axis.set_yticks(
            [label * (height + 1) + height / 2 for label in range(data.n_classes)], data.class_names
        )
        axis.set_xticks(
            [per_class * (width + 1) / 2, (1.5 * per_class + 1) * (width + 1)],
            ["real", "synthetic"],
        )
        axis.tick_params(length=0)
        axis.set_title(
            f"{regime} ({len(y)} rows)\n{settings.sampling} sampling, β={settings.beta:.2g}, "
            f"latent {settings.latent_dim}",
            fontsize=9,
        )
        for spine in axis.spines.values():
            spine.set_visible(False)
    return figure


def _interpolation_strip(
    data: LabelledData, training: FirstSplits, generators: Mapping[str, FittedCVAE], steps: int
) -> Figure:
    first, second = data.interpolation_classes
    height, width = data.image_shape
    figure, axes = _panels(len(training), steps, (0.9 * steps, 1.05 * len(training) + 0.4))
    weights = np.linspace(0.0, 1.0, steps)[:, None]
    for row, (regime, (x, y, _)) in enumerate(training.items()):
        ends = np.stack([x[y == first][0], x[y == second][0]])
        mu, _ = generators[regime].encode(ends, np.array([first, second]))
        z = (1 - weights) * mu[0] + weights * mu[1]
        onehot = np.eye(data.n_classes)
        labels = (1 - weights) * onehot[first] + weights * onehot[second]
        images = generators[regime].decode_mean(z, labels)
        for column in range(steps):
            axis = axes[row, column]
            axis.imshow(images[column].reshape(height, width), cmap="gray_r", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(regime, fontsize=8)
            if row == 0:
                axis.set_title(f"{weights[column, 0]:.2f}", fontsize=8)
    figure.suptitle(
        f"{data.name}: from class {data.class_names[first]} to class {data.class_names[second]} "
        "in the CVAE's latent space",
        fontsize=10,
    )
    return figure


def _points_2d(
    data: LabelledData, training: FirstSplits, chosen: Mapping, selected_arms: list[str]
) -> Figure:
    arms = [arm for arm in selected_arms if arm != BASELINE_ARM]
    figure, axes = _panels(
        len(training),
        len(arms),
        (3.4 * len(arms), 3.2 * len(training)),
        sharex=True,
        sharey=True,
    )
    colours = matplotlib.colormaps["tab10"]
    for row, (regime, (x, y, seed)) in enumerate(training.items()):
        for column, arm in enumerate(arms):
            axis = axes[row, column]
            [(augmented_x, augmented_y)] = augment(
                arm, [x], [y], data.n_classes, chosen[regime][arm], [seed], data.scaling
            )
            synthetic_x, synthetic_y = augmented_x[len(x) :], augmented_y[len(x) :]
            first_panel = row == column == 0
            for label in range(data.n_classes):
                axis.scatter(
                    *x[y == label].T,
                    s=12,
                    color=colours(label),
                    edgecolors="black",
                    linewidths=0.3,
                    label=f"{data.class_names[label]}, real" if first_panel else None,
                )
            # Synthetic points on top, so that dense real data cannot hide them.
            for label in range(data.n_classes):
                axis.scatter(
                    *synthetic_x[synthetic_y == label].T,
                    marker="x",
                    s=10,
                    alpha=0.5,
                    linewidths=0.8,
                    color=colours(label),
                    label=f"{data.class_names[label]}, synthetic" if first_panel else None,
                )
            axis.set_title(f"{regime}: {arm} (+{len(synthetic_y)} rows)", fontsize=9)
            axis.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="lower left")
    return figure
