"""The MLflow model registry: a registered model, its versions, and who serves.

Every trained model becomes a version of the registered model ``registry.model_name``
names (one per model family and data set, derived in YAML) tagged with a handful of
facts: its data (name, custom path, fingerprint, size), its kind and its headline test
metric; the other metrics stay in its run. Aliases, not the deprecated stages, say what
each version is for: ``champion`` is the version
``mlflow models serve -m models:/<name>@champion`` serves, ``challenger`` the latest
version a retraining run trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.types.schema import Schema

from vaeops.adapters.mlflow.pyfunc import RecommenderModel, log_recommender, recommender_signature
from vaeops.data.settings import DatasetParameters
from vaeops.recommenders.baselines import Popularity
from vaeops.recommenders.retraining import (
    ServingContract,
    ServingParameters,
    catalogue_overlap,
    comparison_scores,
    interactions_fingerprint,
    item_id_type,
)
from vaeops.recommenders.serving import Recommender

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
DATASET_TAG = "dataset"
DATASET_PATH_TAG = "dataset_path"
FINGERPRINT_TAG = "dataset_fingerprint"
N_USERS_TAG = "n_users"
N_INTERACTIONS_TAG = "n_interactions"
# The tags a version's description repeats, besides its test metric.
VERSION_FACTS = (N_USERS_TAG, N_INTERACTIONS_TAG)


@dataclass(frozen=True)
class TrainedRecommender:
    """What registering a model needs, as the training and preprocessing stages produce it."""

    weights: dict[str, torch.Tensor]
    model_config: dict
    item_map: pd.DataFrame  # item, column
    train: sp.csr_matrix
    user_map: pd.DataFrame  # user, split, row

    def item_ids(self) -> pd.Series:
        return item_ids_of(self.item_map)

    def seen_users(self) -> pd.Series:
        """The users the model trained on or was early-stopped on."""
        seen = self.user_map[self.user_map["split"].isin(("train", "validation"))]
        return seen["user"].reset_index(drop=True)

    def popularity(self) -> np.ndarray:
        return Popularity().fit(self.train).item_counts_

    def recommender(self, serving: ServingParameters) -> Recommender:
        """The model as it will be served once registered with ``serving``
        (params:registry.serving)."""
        return Recommender.from_weights(
            self.weights,
            self.model_config,
            self.item_ids(),
            self.popularity(),
            **serving.model_dump(),
        )


@dataclass(frozen=True)
class ServedVersion:
    """A registered version as ``mlflow models serve`` would serve it, with its contract."""

    model: RecommenderModel
    contract: ServingContract


class ModelRegistry:
    """The versions of one registered model, addressed by alias or by data fingerprint."""

    def __init__(self, model_name: str):
        self.model_name = model_name
        self.client = mlflow.MlflowClient()

    def version(self, alias: str) -> ModelVersion | None:
        """The version behind ``alias``; None, with the reason logged, if the model or
        the alias does not exist (never set, or deleted by hand: deleting a version
        deletes its aliases).

        Reads the model's aliases rather than asking for the alias: the SQL store
        answers a missing alias with INVALID_PARAMETER_VALUE, not RESOURCE_DOES_NOT_EXIST.
        """
        try:
            aliases = self.client.get_registered_model(self.model_name).aliases
        except MlflowException as error:
            if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                logger.info("No %s yet: %s is not registered.", alias, self.model_name)
                return None
            raise
        if alias not in aliases:
            logger.warning(
                "No %s: %s has no alias %r (it was never set, or was deleted); "
                "carrying on as with none.",
                alias,
                self.model_name,
                alias,
            )
            return None
        return self.client.get_model_version(self.model_name, str(aliases[alias]))

    def facts_about(self, champion: ModelVersion | None, fingerprint: str) -> dict:
        """What the registry knows before a retraining round: the versions trained on the
        rows with ``fingerprint``, and the champion's version and number of users."""
        on_same_data = self.client.search_model_versions(
            f"name = '{self.model_name}' and tags.{FINGERPRINT_TAG} = '{fingerprint}'"
        )
        return {
            "versions_on_same_data": tuple(str(version.version) for version in on_same_data),
            "champion_version": champion.version if champion else None,
            "champion_n_users": int(champion.tags[N_USERS_TAG]) if champion else None,
        }

    def register(
        self,
        model: TrainedRecommender,
        tags: dict[str, str],
        serving: ServingParameters,
        aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        """Log the pyfunc model into the active run, register it, tag it and set ``aliases``."""
        info = log_recommender(
            model.weights,
            model.model_config,
            model.item_ids(),
            model.popularity(),
            model.seen_users(),
            serving.model_dump(),
        )
        version = mlflow.register_model(info.model_uri, self.model_name, tags=tags).version
        self._describe(version, model.model_config["kind"], tags)
        for alias in aliases:
            self.set_alias(alias, version)
        logger.info(
            "Registered %s version %s%s",
            self.model_name,
            version,
            f" as {', '.join(aliases)}" if aliases else "",
        )
        return self.client.get_model_version(self.model_name, str(version))

    def _describe(self, version: str | int, kind: str, tags: dict[str, str]) -> None:
        """Say in the registry's UI what the model and the version hold. A description the
        registered model already has, perhaps the user's own, stays."""
        data = tags.get(DATASET_PATH_TAG) or tags[DATASET_TAG]
        if not self.client.get_registered_model(self.model_name).description:
            self.client.update_registered_model(
                self.model_name,
                description=(
                    f"vaeops {kind} recommenders trained on {data}. The alias `{CHAMPION}` "
                    f"marks the version `mlflow models serve -m models:/{self.model_name}@"
                    f"{CHAMPION}` serves; only `kedro run --pipelines retraining` moves it "
                    f"once set, and `{CHALLENGER}` marks the version it trained last."
                ),
            )
        facts = [f"{name} {tags[name]}" for name in sorted(tags) if name in VERSION_FACTS]
        facts += [f"{name} {value}" for name, value in tags.items() if name.startswith("test/")]
        self.client.update_model_version(
            self.model_name,
            str(version),
            description=f"{kind} trained on {data}"
            + (f" ({', '.join(facts)})" if facts else "")
            + ". Its run holds every metric and parameter.",
        )

    def set_alias(self, alias: str, version: str | int) -> None:
        self.client.set_registered_model_alias(self.model_name, alias, version)

    def served(self, version: ModelVersion) -> ServedVersion:
        """The version's pyfunc model as it is served (weights, item ids, seen users) and
        the contract its tags and MLflow signature record."""
        loaded = mlflow.pyfunc.load_model(f"models:/{self.model_name}/{version.version}")
        model = loaded.unwrap_python_model()
        contract = _contract(
            version.tags[DATASET_TAG],
            version.tags.get(DATASET_PATH_TAG),
            model.recommender.item_ids,
            loaded.metadata.signature,
        )
        return ServedVersion(model, contract)

    def summary(self, version: ModelVersion) -> dict:
        """Where to find ``version``: its number, aliases, run and model URI."""
        return {
            "model_name": self.model_name,
            "version": version.version,
            "aliases": sorted(version.aliases),
            "run_id": version.run_id,
            "model_uri": f"models:/{self.model_name}/{version.version}",
        }


def item_ids_of(item_map: pd.DataFrame) -> pd.Series:
    """The original id of each model column, in column order."""
    return item_map.sort_values("column")["item"].reset_index(drop=True)


def contract_facts(
    champion: ServedVersion | None, dataset: DatasetParameters, item_map: pd.DataFrame
) -> dict[str, ServingContract | float | None]:
    """The facts that say whether a model of ``dataset`` (with the split's ``item_map``)
    could serve ``champion``'s clients (``retraining.contract_breaches``)."""
    item_ids = item_ids_of(item_map)
    return {
        "champion_contract": champion.contract if champion else None,
        "challenger_contract": _contract(
            dataset.name, dataset.custom_file, item_ids, recommender_signature(item_ids)
        ),
        "catalogue_overlap": (
            catalogue_overlap(champion.model.recommender.item_ids, item_ids) if champion else None
        ),
    }


def scores_against(
    champion: ServedVersion | None,
    challenger: Recommender,
    held_out: pd.DataFrame,
    metric: str,
    rope: float,
) -> dict[str, float | int | None]:
    """``comparison_scores`` of ``challenger`` and the served ``champion`` (if any)."""
    if champion is None:
        return comparison_scores(held_out, metric, rope, challenger)
    return comparison_scores(
        held_out, metric, rope, challenger, champion.model.recommender, champion.model.seen_users()
    )


def version_tags(
    dataset: DatasetParameters,
    interactions: pd.DataFrame,
    split_summary: dict,
    model_kind: str,
    test_metrics: dict[str, float],
    headline_metric: str,
) -> dict[str, str]:
    """What a version was trained on and how well it did: its data (name, custom path,
    fingerprint, size), its kind and ``test/<headline_metric>`` where measured. The run
    (``version.run_id``) holds every metric."""
    tags = {
        DATASET_TAG: dataset.name,
        FINGERPRINT_TAG: interactions_fingerprint(interactions),
        N_USERS_TAG: str(split_summary["total"]["users"]),
        N_INTERACTIONS_TAG: str(len(interactions)),
        "model_kind": model_kind,
    }
    if path := dataset.custom_file:
        tags[DATASET_PATH_TAG] = path
    headline = f"test/{headline_metric}"
    if headline in test_metrics:
        tags[headline] = f"{test_metrics[headline]:.6g}"
    return tags


def _contract(
    dataset: str, dataset_path: str | None, item_ids, signature: ModelSignature
) -> ServingContract:
    return ServingContract(
        dataset=dataset,
        dataset_path=dataset_path,
        item_id_type=item_id_type(item_ids),
        request_fields=_fields(signature.inputs),
        answer_fields=_fields(signature.outputs),
    )


def _fields(schema: Schema) -> tuple[str, ...]:
    return tuple(
        f"{spec.name}: {spec.type!r}{'' if spec.required else ' (optional)'}"
        for spec in schema.inputs
    )
