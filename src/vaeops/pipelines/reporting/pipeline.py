from kedro.pipeline import Pipeline, node

from .nodes import (
    check_posterior_health,
    describe_items,
    encode_posteriors,
    neighbours_of_popular_items,
    plot_user_maps,
    traverse_between_users,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([*_item_nodes(), *_latent_space_nodes()])


def _item_nodes() -> list:
    """The items, described and each popular one with its neighbours."""
    return [
        node(
            describe_items,
            ["item_map", "params:dataset"],
            "item_descriptions",
            name="describe_items",
        ),
        node(
            neighbours_of_popular_items,
            [
                "model_weights",
                "model_config",
                "train_matrix",
                "item_descriptions",
                "params:reporting",
                "params:dataset",
            ],
            {
                "table": "latent_item_neighbours_table",
                "markdown": "latent_item_neighbours_markdown",
            },
            name="neighbours_of_popular_items",
        ),
    ]


def _latent_space_nodes() -> list:
    """The users' posteriors, drawn as maps, traversed and checked for collapse."""
    return [
        node(
            encode_posteriors,
            [
                "model_weights",
                "model_config",
                "train_matrix",
                "test_fold_in",
                "params:reporting",
            ],
            "latent_posteriors",
            name="encode_posteriors",
        ),
        node(
            plot_user_maps,
            [
                "latent_posteriors",
                "train_matrix",
                "test_fold_in",
                "item_descriptions",
                "model_config",
                "params:reporting",
            ],
            {"train": "latent_user_map_train_plot", "test": "latent_user_map_test_plot"},
            name="plot_user_maps",
        ),
        node(
            traverse_between_users,
            [
                "latent_posteriors",
                "model_weights",
                "model_config",
                "test_fold_in",
                "user_map",
                "item_descriptions",
                "params:reporting",
                "params:dataset",
            ],
            "latent_traversal_markdown",
            name="traverse_between_users",
        ),
        node(
            check_posterior_health,
            ["latent_posteriors", "model_config", "params:reporting"],
            {
                "plot": "latent_posterior_kl_plot",
                "summary": "latent_posterior_health",
                "metrics": "latent_metrics",
            },
            name="check_posterior_health",
        ),
    ]
