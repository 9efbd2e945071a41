from kedro.pipeline import Pipeline, node

from .nodes import (
    compare_with_no_augmentation,
    draw_generator_views,
    evaluate_arms,
    load_datasets,
    plot_accuracy_by_size,
    tune_arms,
    write_report,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                load_datasets,
                "params:augmentation",
                "augmentation_datasets",
                name="load_augmentation_datasets",
            ),
            # Tuning sees the tuning partition only; evaluation, the disjoint evaluation pool.
            node(
                tune_arms,
                ["augmentation_datasets", "params:augmentation"],
                "augmentation_arm_settings",
                name="tune_augmentation_arms",
            ),
            node(
                evaluate_arms,
                ["augmentation_datasets", "augmentation_arm_settings", "params:augmentation"],
                "augmentation_scores",
                name="evaluate_augmentation_arms",
            ),
            node(
                compare_with_no_augmentation,
                [
                    "augmentation_scores",
                    "augmentation_datasets",
                    "augmentation_arm_settings",
                    "params:augmentation",
                ],
                {"summary": "augmentation_summary", "tests": "augmentation_tests"},
                name="compare_with_no_augmentation",
            ),
            node(
                plot_accuracy_by_size,
                ["augmentation_summary", "params:augmentation"],
                "augmentation_size_plot",
                name="plot_accuracy_by_size",
            ),
            node(
                draw_generator_views,
                ["augmentation_datasets", "augmentation_arm_settings", "params:augmentation"],
                {
                    "figures": "augmentation_generator_views",
                    "captions": "augmentation_figure_captions",
                },
                name="draw_generator_views",
            ),
            node(
                write_report,
                [
                    "augmentation_summary",
                    "augmentation_arm_settings",
                    "augmentation_figure_captions",
                    "params:augmentation",
                ],
                "augmentation_report",
                name="write_augmentation_report",
            ),
        ]
    )
