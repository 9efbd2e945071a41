"""Pictures and the markdown report of the augmentation study.

The generator views redraw what the arms trained on in the first split of each
regime: the same rows, the same tuned settings and the same seed as in the
evaluation, so a picture shows the synthetic data that was scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from vaeops.augmentation.cvae import fit_cvae  # noqa: E402

from vaeops.augmentation.arms import BASELINE_ARM, LIKELIHOOD_BY_SCALING, augment, cvae_config  # noqa: E402
from vaeops.augmentation.datasets import LabelledData, Scaler, plan_splits  # noqa: E402
from .nodes import VERDICTS, experiment_for  # noqa: E402
from .protocol import single_threaded, split_seed, training_rows  # noqa: E402

# Where the pictures lie, relative to the report (see conf/base/catalog_augmentation.yml).
FIGURE_FOLDER = "augmentation"
ARM_COLOURS = {"none": "black", "noise": "tab:blue", "smote": "tab:orange", "cvae": "tab:green"}
METRIC_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "macro_f1": "macro-F1",
    "minority_recall": "minority recall",
}


def plot_accuracy_by_size(summary: pd.DataFrame, augmentation: dict) -> plt.Figure:
    """The decision metric against the real training-set size, one line per arm;
    imbalanced regimes are left out, their size is not the point."""
    metric = augmentation["statistics"]["metric"]
    imbalanced = {
        name
        for name, spec in augmentation["regimes"].items()
        if spec.get("minority_ratio") is not None
    }
    sized = summary[~summary["regime"].isin(imbalanced)]
    datasets, classifiers = (
        list(dict.fromkeys(sized["dataset"])),
        list(dict.fromkeys(sized["classifier"])),
    )
    figure, axes = plt.subplots(
        len(classifiers),
        len(datasets),
        figsize=(4.2 * len(datasets), 3.4 * len(classifiers)),
        squeeze=False,
        constrained_layout=True,
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


def draw_generator_views(
    datasets: dict[str, LabelledData], arm_settings: dict, augmentation: dict
) -> dict:
    """Real and synthetic digits, a latent interpolation strip (image data sets) and
    real vs synthetic points (2-D data sets). Returns ``figures`` ({file name: figure})
    and ``captions`` ({file name: caption}) for the report."""
    with single_threaded():
        return _generator_views(datasets, arm_settings, augmentation)


def _generator_views(
    datasets: dict[str, LabelledData], arm_settings: dict, augmentation: dict
) -> dict:
    figures, captions = {}, {}
    settings = augmentation["figures"]
    for name, data in datasets.items():
        regimes = augmentation["datasets"][name]["regimes"]
        training = {regime: _first_split_training(data, regime, augmentation) for regime in regimes}
        if data.image_shape is not None and "cvae" in augmentation["selected_arms"]:
            generators = {
                regime: _fit_first_split_cvae(
                    data, x, y, arm_settings[name][regime]["cvae"]["settings"], seed
                )
                for regime, (x, y, seed) in training.items()
            }
            file = f"{name}_real_and_synthetic.png"
            figures[file] = _sample_grid(
                data, training, generators, arm_settings[name], settings["samples_per_class"]
            )
            captions[file] = (
                f"{name}: real training images (left) and CVAE samples (right) per class, "
                "first split of each regime, tuned settings"
            )
            file = f"{name}_interpolation.png"
            figures[file] = _interpolation_strip(
                data, training, generators, settings["interpolation_steps"]
            )
            first, second = (data.class_names[c] for c in data.interpolation_classes)
            captions[file] = (
                f"{name}: CVAE decoder along the straight line between the encodings of a "
                f"training {first} and a training {second} (the label is interpolated too)"
            )
        if data.x.shape[1] == 2:
            file = f"{name}_real_and_synthetic.png"
            figures[file] = _points_2d(
                data, training, arm_settings[name], augmentation["selected_arms"]
            )
            captions[file] = (
                f"{name}: real training points (filled) and each arm's synthetic points (crosses), "
                "standardised features, first split of each regime"
            )
    return {"figures": figures, "captions": captions}


def _first_split_training(data: LabelledData, regime: str, augmentation: Mapping[str, Any]):
    """The scaled training rows of the first evaluation split, as run_splits_together
    builds them."""
    experiment = experiment_for(data, regime, augmentation)
    split = plan_splits(data.y, augmentation["protocol"]).splits[0]
    seed = split_seed(experiment.seed, split)
    rows = training_rows(experiment, split, seed)
    x = Scaler.fit(data.x[rows], data.scaling).transform(data.x[rows])
    return x, data.y[rows], seed


def _fit_first_split_cvae(
    data: LabelledData, x: np.ndarray, y: np.ndarray, settings: Mapping[str, Any], seed: int
):
    return fit_cvae(
        x, y, data.n_classes, cvae_config(settings, LIKELIHOOD_BY_SCALING[data.scaling]), seed
    )


def _sample_grid(data, training, generators, chosen, per_class) -> plt.Figure:
    height, width = data.image_shape
    canvas_shape = (data.n_classes * (height + 1), (2 * per_class + 1) * (width + 1))
    panel_width = 3.6
    figure, axes = plt.subplots(
        1,
        len(training),
        squeeze=False,
        constrained_layout=True,
        figsize=(
            panel_width * len(training),
            panel_width * canvas_shape[0] / canvas_shape[1] + 0.7,
        ),
    )
    for axis, (regime, (x, y, seed)) in zip(axes[0], training.items(), strict=True):
        settings = chosen[regime]["cvae"]["settings"]
        labels = np.repeat(np.arange(data.n_classes), per_class)
        synthetic = generators[regime].sample(
            labels, settings["sampling"], tau=settings["tau"], seed=seed
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
            f"{regime} ({len(y)} rows)\n{settings['sampling']} sampling, β={settings['beta']:.2g}, "
            f"latent {settings['latent_dim']}",
            fontsize=9,
        )
        for spine in axis.spines.values():
            spine.set_visible(False)
    return figure


def _interpolation_strip(data, training, generators, steps) -> plt.Figure:
    first, second = data.interpolation_classes
    height, width = data.image_shape
    figure, axes = plt.subplots(
        len(training),
        steps,
        figsize=(0.9 * steps, 1.05 * len(training) + 0.4),
        squeeze=False,
        constrained_layout=True,
    )
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


def _points_2d(data, training, chosen, selected_arms) -> plt.Figure:
    arms = [arm for arm in selected_arms if arm != BASELINE_ARM]
    figure, axes = plt.subplots(
        len(training),
        len(arms),
        figsize=(3.4 * len(arms), 3.2 * len(training)),
        squeeze=False,
        sharex=True,
        sharey=True,
        constrained_layout=True,
    )
    colours = plt.get_cmap("tab10")
    for row, (regime, (x, y, seed)) in enumerate(training.items()):
        for column, arm in enumerate(arms):
            axis = axes[row, column]
            [(augmented_x, augmented_y)] = augment(
                arm, [x], [y], data.n_classes, chosen[regime][arm]["settings"], [seed], data.scaling
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


def write_report(
    summary: pd.DataFrame, arm_settings: dict, captions: dict, augmentation: dict
) -> str:
    """The results in markdown, with verdicts derived from the posterior probabilities."""
    lines = ["# Does data augmentation help the classifier?", ""]
    lines += _protocol(augmentation)
    lines += _verdicts(summary, augmentation)
    lines += _results(summary, augmentation)
    lines += _settings(arm_settings, augmentation)
    lines += ["## Figures", ""]
    label = METRIC_LABELS[augmentation["statistics"]["metric"]]
    lines += [
        f"![Test {label} against training-set size]({FIGURE_FOLDER}/accuracy_vs_size.png)",
        "",
    ]
    for file, caption in captions.items():
        lines += [f"![{caption}]({FIGURE_FOLDER}/generator/{file})", "", f"*{caption}.*", ""]
    return "\n".join(lines)


def _protocol(augmentation: Mapping[str, Any]) -> list[str]:
    protocol, statistics = augmentation["protocol"], augmentation["statistics"]
    rope, threshold = statistics["rope"], statistics["decision_probability"]
    n_splits = protocol["repeats"] * protocol["folds"]
    return [
        f"Every arm was scored on the same {protocol['repeats']} × {protocol['folds']} repeated "
        f"stratified splits ({n_splits} test folds) of each data set, after a stratified "
        f"{protocol['tuning_fraction']:.0%} tuning partition had been set aside for Optuna. In "
        "each split the regime subsamples the training fold; the scaler, the augmenter and the "
        "classifiers see only those rows, and the test fold is never subsampled.",
        "",
        f"Each arm is compared with `{BASELINE_ARM}` split by split by a Bayesian correlated "
        "t-test (Benavoli et al. 2017, with the Nadeau-Bengio correction for overlapping "
        f"training sets) on {METRIC_LABELS[statistics['metric']]}, with a region of practical "
        f"equivalence (ROPE) of ±{rope:g}. An arm **helped** when P(better) > {threshold:g}, "
        f"**hurt** when P(worse) > {threshold:g}, was **equivalent** when P(equivalent) > "
        f"{threshold:g}, and is **inconclusive** otherwise.",
        "",
    ]


def _verdicts(summary: pd.DataFrame, augmentation: Mapping[str, Any]) -> list[str]:
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
    columns = list(dict.fromkeys(zip(compared["arm"], compared["classifier"], strict=True)))
    lines += [
        "| data set | regime | " + " | ".join(f"{a} ({c})" for a, c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for (name, regime), rows in compared.groupby(["dataset", "regime"], sort=False):
        cells = {
            (row.arm, row.classifier): f"{row.verdict} ({100 * row.difference:+.1f})"
            for row in rows.itertuples()
        }
        lines.append(
            f"| {name} | {regime} | "
            + " | ".join(cells.get(column, "–") for column in columns)
            + " |"
        )
    return [*lines, ""]


def _verb(outcome: str) -> str:
    return {"equivalent": "was equivalent", "inconclusive": "was inconclusive"}.get(
        outcome, outcome
    )


def _results(summary: pd.DataFrame, augmentation: Mapping[str, Any]) -> list[str]:
    statistics = augmentation["statistics"]
    rope, label = statistics["rope"], METRIC_LABELS[statistics["metric"]]
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
    header = (
        "| regime | classifier | arm | real rows | synthetic | accuracy | balanced acc. | "
        "macro-F1 | minority recall | Δ | P(worse) | P(equiv.) | P(better) | verdict |"
    )
    for name, rows in summary.groupby("dataset", sort=False):
        lines += [f"### {name}", "", header, "|---|---|---|---:|---:|" + "---:|" * 8 + "---|"]
        for row in rows.itertuples():
            cells = [row.regime, row.classifier, row.arm, f"{row.n_train:.0f}"]
            cells.append(f"{row.n_synthetic:.0f}")
            cells += [_mean_sd(row, m) for m in ("accuracy", "balanced_accuracy", "macro_f1")]
            cells.append(_mean_sd(row, "minority_recall") if row.minority_relevant else "–")
            if row.arm == BASELINE_ARM:
                cells += ["–", "–", "–", "–", "baseline"]
            else:
                cells.append(f"{100 * row.difference:+.1f}")
                cells += [f"{p:.3f}" for p in (row.p_worse, row.p_rope, row.p_better)]
                cells.append(row.verdict)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _mean_sd(row: Any, metric: str) -> str:
    return f"{getattr(row, f'{metric}_mean'):.3f} ± {getattr(row, f'{metric}_sd'):.3f}"


def _settings(arm_settings: dict, augmentation: Mapping[str, Any]) -> list[str]:
    tuning = augmentation["tuning"]
    lines = [
        "## Settings each arm ran with",
        "",
        f"Tuned by Optuna on the tuning partition ({tuning['inner_splits']} inner splits per "
        f"trial, objective: {tuning['metric']} averaged over the classifiers); `{BASELINE_ARM}` "
        "has none. Trial 0 of each study is the configured settings.",
        "",
        "| data set | regime | arm | trials | best objective | settings |",
        "|---|---|---|---:|---:|---|",
    ]
    for name, regimes in arm_settings.items():
        for regime, arms in regimes.items():
            for arm, chosen in arms.items():
                if arm == BASELINE_ARM:
                    continue
                study = chosen["study"]
                trials = study["n_trials"] if study else "–"
                best = f"{study['best_value']:.3f}" if study else "–"
                shown = ", ".join(f"{key}={_short(v)}" for key, v in chosen["settings"].items())
                lines.append(f"| {name} | {regime} | {arm} | {trials} | {best} | {shown} |")
    return [*lines, ""]


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
