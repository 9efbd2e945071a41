"""Baselines and autoencoders, each chosen on validation users, then scored once on test users.

Every choice a benchmark makes (a baseline's setting from a grid of values, the
epoch an autoencoder keeps) is made on validation users. The test users are
scored once, after all choices, by the same code for every model, so the table
compares models rather than protocols, and nothing about the test users can
pick a model. A split that ships only train and test parts (LightGCN's) gets
its validation users carved out of the train part; the chosen models may then
be fitted again on all train items (``refit``). The reference model is compared
with each other model, and each autoencoder with EASE, user by user (Bayesian
bootstrap). Autoencoder training and per-model tracking come in as callbacks,
so the benchmark runs without MLflow.
"""

from vaeops.recommenders.benchmark.fitting import (
    AutoencoderTrainer,
    ModelLog,
    ModelRun,
    ModelSettings,
    Validation,
    candidate_settings,
    fit_and_score,
    refit_settings,
)
from vaeops.recommenders.benchmark.given_split import given_split_data
from vaeops.recommenders.benchmark.protocol import BenchmarkData, held_out_data
from vaeops.recommenders.benchmark.settings import (
    BASELINE_TO_BEAT,
    BASELINES,
    BenchmarkParameters,
)
from vaeops.recommenders.benchmark.statistics import RECALL_DEFINITIONS, benchmark_report

__all__ = [
    "BASELINES",
    "BASELINE_TO_BEAT",
    "RECALL_DEFINITIONS",
    "AutoencoderTrainer",
    "BenchmarkData",
    "BenchmarkParameters",
    "ModelLog",
    "ModelRun",
    "ModelSettings",
    "Validation",
    "benchmark_report",
    "candidate_settings",
    "fit_and_score",
    "given_split_data",
    "held_out_data",
    "refit_settings",
]
