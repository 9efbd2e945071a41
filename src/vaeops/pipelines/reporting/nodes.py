import pandas as pd
import scipy.sparse as sp
from matplotlib.figure import Figure

from vaeops.data.settings import DatasetParameters
from vaeops.data.sparse import resolve_device
from vaeops.data.splits import held_out_user_ids
from vaeops.jobs.titles import titled_report
from vaeops.recommenders.latent import Posterior, decoder_item_vectors, posteriors_by_split
from vaeops.recommenders.models import load_model
from vaeops.recommenders.settings import ReportingParameters
from vaeops.reports import latent_tables, latent_views


def describe_items(item_map: pd.DataFrame, dataset: DatasetParameters) -> pd.DataFrame:
    return latent_tables.describe_items(
        item_map, dataset.name, raw_dir=dataset.raw_dir, path=dataset.path
    )


def neighbours_of_popular_items(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    items: pd.DataFrame,
    reporting: ReportingParameters,
    dataset: DatasetParameters,
) -> dict:
    settings = reporting.item_neighbours
    table = latent_tables.popular_item_neighbours(
        decoder_item_vectors(load_model(model_config, weights)),
        train,
        items,
        n_items=settings.n_items,
        n_neighbours=settings.n_neighbours,
    )
    return {
        "table": table,
        "markdown": titled_report(latent_tables.neighbours_markdown(table), dataset),
    }


def encode_posteriors(
    weights: dict,
    model_config: dict,
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    reporting: ReportingParameters,
) -> dict[str, Posterior]:
    """``q(z | x)`` of the training users and of the test users given their fold-in items."""
    return posteriors_by_split(
        load_model(model_config, weights, resolve_device(reporting.device)),
        {"train": train, "test": test_fold_in},
        reporting.batch_size,
    )


def plot_user_maps(
    posteriors: dict[str, Posterior],
    train: sp.csr_matrix,
    test_fold_in: sp.csr_matrix,
    items: pd.DataFrame,
    model_config: dict,
    reporting: ReportingParameters,
) -> dict[str, Figure]:
    return latent_views.user_maps(
        posteriors,
        {"train": train, "test": test_fold_in},
        items,
        projection=reporting.user_map.projection,
        max_genres=reporting.user_map.max_genres_in_legend,
        seed=reporting.seed,
        model_kind=model_config["kind"],
    )


def traverse_between_users(
    posteriors: dict[str, Posterior],
    weights: dict,
    model_config: dict,
    test_fold_in: sp.csr_matrix,
    user_map: pd.DataFrame,
    items: pd.DataFrame,
    reporting: ReportingParameters,
    dataset: DatasetParameters,
) -> str:
    markdown = latent_tables.traversal_markdown(
        load_model(model_config, weights, resolve_device(reporting.device)),
        posteriors,
        test_fold_in,
        held_out_user_ids(user_map, "test"),
        items["title"].to_numpy(),
        steps=reporting.traversal.steps,
        top_k=reporting.traversal.top_k,
    )
    return titled_report(markdown, dataset)


def check_posterior_health(
    posteriors: dict[str, Posterior], model_config: dict, reporting: ReportingParameters
) -> dict:
    return latent_views.posterior_health(
        posteriors, model_config["kind"], reporting.posterior.active_threshold_nats
    )
