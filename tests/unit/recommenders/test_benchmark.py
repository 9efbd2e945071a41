"""The benchmark's core: which models run, choices made on validation users only, refits,
scoring on the same test users, and the report."""

import dataclasses
import logging
from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp

from tests.helpers.markdown_tables import markdown_tables
from tests.helpers.matrices import csr
from tests.helpers.settings import benchmark_settings, shipped, training_settings
from tests.unit.recommenders.test_models import small_problem
from vaeops.data.settings import CarvedValidationParameters
from vaeops.errors import DataError
from vaeops.recommenders import benchmark
from vaeops.recommenders.benchmark import (
    BenchmarkData,
    BenchmarkParameters,
    candidate_settings,
    fit_and_score,
    given_split_data,
    refit_settings,
)
from vaeops.recommenders.metrics import Evaluation
from vaeops.recommenders.settings import EvaluationParameters
from vaeops.recommenders.training import train_autoencoder
from vaeops.reports.benchmark import benchmark_markdown

TABLE_METRICS = tuple(shipped()["benchmark"]["table_metrics"])
REPORTED = {
    "reference": "multvae",
    "headline_metric": "ndcg_at_100",
    "table_metrics": {metric: metric for metric in TABLE_METRICS},
    "rope": 0.01,
    "bootstrap_samples": 1000,
    "bootstrap_seed": 0,
}
SETTINGS = benchmark_settings(**REPORTED)
PROTOCOL = {"validation": "held-out users", "description": "Every choice was made on 2 users."}


def carve(**settings) -> CarvedValidationParameters:
    return CarvedValidationParameters.model_validate(settings)


class Favourite:
    """A baseline that ranks its ``item`` first, then the others by index; it records
    what it was fitted on."""

    fits: list = []

    def __init__(self, item: int):
        self.item = item

    def fit(self, train):
        Favourite.fits.append((self.item, train))
        return self

    def score(self, fold_in):
        scores = np.tile(-np.arange(fold_in.shape[1], dtype=np.float32), (fold_in.shape[0], 1))
        scores[:, self.item] = 1.0
        return scores


class RecordedLog:
    def __init__(self):
        self.params, self.metrics, self.tags = {}, {}, {}

    def log_params(self, params):
        self.params.update(params)

    def log_metrics(self, metrics):
        self.metrics.update(metrics)

    def set_tags(self, tags):
        self.tags.update(tags)


def recording_runs():
    """A ModelRun that keeps each model's log, and the logs by model name."""
    logs = {}

    @contextmanager
    def model_run(name, settings):
        logs[name] = RecordedLog()
        yield logs[name]

    return model_run, logs


# The validation user clicked item 0 and hides item 2; the test users hide items 1 and 3.
DATA = BenchmarkData(
    train=csr([[0, 1, 2], [0, 1], [0]]),
    validation_fold_in=csr([[0]]),
    validation_target=csr([[2]]),
    test_fold_in=csr([[0], [1]]),
    test_target=csr([[1], [3]]),
    protocol=PROTOCOL,
    refit_train=csr([[0, 1, 2, 3], [0, 1], [0, 3]]),
)
EVALUATION = EvaluationParameters(ks=[1, 3], batch_size=1, device="cpu")


def test_a_grid_is_chosen_on_validation_then_refit_and_scored_once(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=benchmark.__name__)
    monkeypatch.setitem(benchmark.BASELINES, "favourite", Favourite)
    monkeypatch.setitem(benchmark.BASELINES, "fixed", Favourite)
    monkeypatch.setattr(Favourite, "fits", [])
    model_run, logs = recording_runs()
    results = fit_and_score(
        {"favourite": {"item": [1, 2, 3]}, "fixed": {"item": 3}},
        DATA,
        EVALUATION,
        "ndcg_at_3",
        1,
        None,
        model_run,
    )

    # Only item 2 hits the validation target; the test users would have preferred 1 or 3.
    choice = results["models"]["favourite"]["choice"]
    assert choice["chosen"] == {"item": 2}
    assert choice["grid"] == [
        {"item": 1, "validation_ndcg_at_1": 0.0},
        {"item": 2, "validation_ndcg_at_1": 1.0},
        {"item": 3, "validation_ndcg_at_1": 0.0},
    ]
    # Candidates learn from the train part; the chosen one and a model with nothing to
    # choose are fitted on all train items.
    assert [(item, train is DATA.train) for item, train in Favourite.fits[:3]] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    assert [(item, train is DATA.refit_train) for item, train in Favourite.fits[3:]] == [
        (2, True),
        (3, True),
    ]
    assert results["models"]["fixed"]["choice"] == {}
    # A long grid (EASE on a large catalogue) reports each candidate as it is scored.
    progress = [r.getMessage() for r in caplog.records if " grid " in r.getMessage()]
    assert [m.split(": validation")[0] for m in progress] == [
        "Favourite grid 1/3 {'item': 1}",
        "Favourite grid 2/3 {'item': 2}",
        "Favourite grid 3/3 {'item': 3}",
    ]
    assert "validation ndcg_at_1 = 1.0000" in progress[1]
    # Item 2 ranks first for both test users; user 0's item 1 comes next (fold-in item 0
    # excluded); user 1's item 3 is third, behind item 0.
    per_user = results["models"]["favourite"]["evaluation"].per_user
    assert per_user["ndcg_at_1"].tolist() == [0.0, 0.0]
    assert per_user["ndcg_at_3"] == pytest.approx([1 / np.log2(3), 0.5])
    assert results["protocol"] == PROTOCOL

    favourite = logs["favourite"]
    assert favourite.params == {"chosen.item": 2}
    summary = results["models"]["favourite"]["evaluation"].summary()
    assert favourite.metrics == {
        **{f"test/{metric}": value for metric, value in summary.items()},
        "train_seconds": results["models"]["favourite"]["train_seconds"],
        "val/ndcg_at_1": 1.0,
    }
    assert logs["fixed"].params == {} and "val/ndcg_at_1" not in logs["fixed"].metrics


def test_an_autoencoder_keeps_its_best_validation_epoch_then_retrains_to_it_on_all_items():
    calls = []

    def trainer(name, settings, train, validation):
        calls.append((name, settings, train, validation))
        return train_autoencoder(settings, train, *(validation or (None, None)))

    multdae = training_settings(
        model={"kind": "multdae", "hidden_dims": [], "latent_dim": 2},
        epochs=3,
        batch_size=2,
        patience=None,
        device="cpu",
    )
    model_run, logs = recording_runs()
    results = fit_and_score(
        {"multdae": multdae}, DATA, EVALUATION, "ndcg_at_3", 1, trainer, model_run
    )

    choice = results["models"]["multdae"]["choice"]
    assert choice["stopped_epoch"] == choice["planned_epochs"] == 3
    assert 1 <= choice["kept_epoch"] <= 3
    assert choice["validation_metric"] == "ndcg_at_100"
    (_, chose_with, chose_on, validation), (_, refit_with, refit_on, no_validation) = calls
    assert (chose_with, chose_on, validation) == (
        multdae,
        DATA.train,
        (DATA.validation_fold_in, DATA.validation_target),
    )
    assert refit_on is DATA.refit_train and no_validation is None
    assert refit_with.epochs == choice["kept_epoch"] and refit_with.patience is None
    log = logs["multdae"]
    assert log.tags == {"precision": choice["precision"]}
    assert (log.metrics["kept_epoch"], log.metrics["stopped_epoch"]) == (choice["kept_epoch"], 3)


def test_a_refit_retraces_the_choosing_run_up_to_its_kept_epoch():
    train, fold_in, target = small_problem()  # 200 users: 4 updates an epoch at batch 50
    settings = training_settings(
        model={"kind": "multvae", "hidden_dims": [16], "latent_dim": 4},
        epochs=6,
        batch_size=50,
        anneal_share=0.5,
        patience=None,
        device="cpu",
    )
    chose = train_autoencoder(settings, train, fold_in, target)
    kept = dataclasses.replace(chose, best_epoch=2)
    refit = train_autoencoder(refit_settings(settings, kept), train, None, None)
    # Same data here, so the refit is the choosing run's first two epochs, β included
    # (it reaches its cap at update 12 in both, although the refit plans 8 updates).
    assert [r["beta"] for r in refit.history] == [r["beta"] for r in chose.history[:2]]
    assert [r["loss"] for r in refit.history] == pytest.approx(
        [r["loss"] for r in chose.history[:2]], rel=1e-6
    )
    # A schedule in updates (the paper's) needs no rescaling: the refit keeps it.
    paper = dataclasses.replace(kept, config=training_settings(epochs=6, total_anneal_steps=100))
    refit = refit_settings(paper.config, paper)
    assert (refit.epochs, refit.total_anneal_steps) == (2, 100)
    assert refit.anneal_share == paper.config.anneal_share


def test_lists_of_values_make_a_grid_of_every_combination():
    candidates = candidate_settings({"k": [50, 100], "shrink": [0.0, 10.0], "seed": 0})
    assert len(candidates) == 4
    assert {(c["k"], c["shrink"]) for c in candidates} == {
        (50, 0.0),
        (50, 10.0),
        (100, 0.0),
        (100, 10.0),
    }
    assert all(c["seed"] == 0 for c in candidates)
    assert candidate_settings({}) == [{}]


def test_given_split_validation_is_carved_from_train_and_the_test_fold_in_is_all_train():
    train = csr([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1], [2]])
    test = csr([[], [], [2], [0]])
    data = given_split_data(train, test, carve(share=0.5, seed=3, max_users=2), refit=False)
    assert data.test_fold_in is train and data.test_target is test and data.refit_train is None
    assert data.validation_target.shape[0] == 2
    assert data.train.nnz == train.nnz - data.validation_target.nnz
    assert data.protocol["validation_users"] == 2 and data.protocol["refit"] is False
    description = data.protocol["description"]
    assert "2 validation users carved from the train part" in description
    assert "at most 2 users drawn at random, seed 3" in description
    assert "share 0.5" in description and "Refit: no." in description
    refit = given_split_data(train, test, carve(share=0.5, seed=3, max_users=None), True)
    assert refit.refit_train is train and "Refit: yes." in refit.protocol["description"]
    assert "every user with two or more train items" in refit.protocol["description"]


def _shuffled_test(test: sp.csr_matrix, train: sp.csr_matrix) -> sp.csr_matrix:
    """Each user gets the next user's test items (the other community's), less their own
    train items."""
    moved = test[np.roll(np.arange(test.shape[0]), 1)]
    return (moved - moved.multiply(train)).tocsr()


def test_no_choice_depends_on_the_test_part():
    train, _, _ = small_problem()
    rng = np.random.default_rng(1)
    # Two unseen items of the user's own community as the test part.
    test = sp.lil_matrix(train.shape, dtype=np.float32)
    for user in range(train.shape[0]):
        community = np.arange(20) + 20 * (user % 2)
        unseen = np.setdiff1d(community, train[user].indices)
        test[user, rng.choice(unseen, size=2, replace=False)] = 1.0
    test = test.tocsr()
    settings = {
        "ease": {"l2": [1.0, 30.0, 1000.0]},
        "itemknn": {"k": [2, 20], "shrink": 0.0},
        "multdae": training_settings(
            model={"kind": "multdae", "hidden_dims": [], "latent_dim": 8},
            epochs=12,
            batch_size=50,
            patience=3,
            validation_k=10,
            device="cpu",
        ),
    }

    def trainer(name, settings, train, validation):
        return train_autoencoder(settings, train, *(validation or (None, None)))

    def run(test_target):
        data = given_split_data(train, test_target, carve(share=0.25, seed=0, max_users=80), True)
        model_run, _ = recording_runs()
        evaluation = EvaluationParameters(ks=[10], batch_size=100, device="cpu")
        return fit_and_score(settings, data, evaluation, "ndcg_at_10", 10, trainer, model_run)

    given, shuffled = run(test), run(_shuffled_test(test, train))
    for name in settings:
        assert given["models"][name]["choice"] == shuffled["models"][name]["choice"], name
        test_ndcg = [
            r["models"][name]["evaluation"].summary()["ndcg_at_10"] for r in (given, shuffled)
        ]
        assert test_ndcg[0] > test_ndcg[1] + 0.1, name  # the test part itself did change
    assert given["protocol"] == shuffled["protocol"]


def test_switched_on_models_are_selected_in_table_order():
    settings = benchmark_settings(
        **REPORTED, models={"ease": True, "mf": False, "multvae": True, "multdae": False}
    )
    assert settings.selected_models() == ["ease", "multvae"]


def _result(ndcg: list[float], rows: list[int], choice: dict | None = None) -> dict:
    values = np.array(ndcg)
    per_user = {metric: values for metric in TABLE_METRICS}
    return {
        "evaluation": Evaluation(np.array(rows), per_user, 0),
        "train_seconds": 1.0,
        "choice": choice or {},
    }


def _results(**models: dict) -> dict:
    return {"protocol": PROTOCOL, "models": models}


def benchmark_report(results: dict, settings: BenchmarkParameters) -> dict:
    """The report and its Markdown, as the benchmark pipelines write them."""
    report = benchmark.benchmark_report(results, settings)
    return {"report": report, "report_markdown": benchmark_markdown(report)}


def test_a_model_ahead_on_every_user_is_better_with_certainty():
    results = _results(
        multvae=_result([0.5, 0.6, 0.7], [0, 1, 2]),
        popularity=_result([0.1, 0.2, 0.3], [0, 1, 2]),
    )
    output = benchmark_report(results, SETTINGS)
    comparison = output["report"]["comparisons"]["popularity"]
    assert comparison["p_multvae_better"] == 1.0
    assert comparison["mean_difference"] == pytest.approx(0.4)
    assert output["report"]["against_ease"] == {}  # EASE was not benchmarked
    assert output["report_markdown"].startswith(
        f"# Benchmark of every model\n\n{PROTOCOL['description']}"
    )
    models, _, comparisons = markdown_tables(output["report_markdown"])
    assert models["model"] == [*TABLE_METRICS, "train seconds"]
    assert models["multvae"] == ["0.6000"] * len(TABLE_METRICS) + ["1.0"]
    assert comparisons == {
        "other model": [
            "P(multvae better)",
            "P(equivalent)",
            "P(other better)",
            "mean difference (multvae − other)",
        ],
        "popularity": ["1.000", "0.000", "0.000", "+0.4000"],
    }


def test_each_autoencoder_is_compared_with_ease_and_every_choice_is_reported():
    vae = {
        "kept_epoch": 12,
        "stopped_epoch": 32,
        "planned_epochs": 200,
        "precision": "bf16",
        "validation_metric": "ndcg_at_100",
        "validation_score": 0.41,
    }
    ease = {
        "chosen": {"l2": 300.0},
        "validation_metric": "ndcg_at_100",
        "validation_score": 0.4,
        "grid": [],
    }
    results = _results(
        multvae=_result([0.5, 0.6, 0.7], [0, 1, 2], vae),
        ease=_result([0.6, 0.7, 0.8], [0, 1, 2], ease),
        multdae=_result([0.6, 0.7, 0.8], [0, 1, 2], {**vae, "precision": "fp32"}),
        popularity=_result([0.1, 0.2, 0.3], [0, 1, 2]),
    )
    output = benchmark_report(results, SETTINGS)
    against = output["report"]["against_ease"]
    assert set(against) == {"multvae", "multdae"}
    assert against["multvae"]["p_ease_better"] == 1.0
    assert against["multvae"]["mean_difference"] == pytest.approx(-0.1)
    assert against["multdae"]["p_rope"] == 1.0 and against["multdae"]["mean_difference"] == 0
    assert output["report"]["choices"]["ease"] == ease

    _, choices, _, versus_ease = markdown_tables(output["report_markdown"])
    assert choices["model"] == [
        "chosen",
        "kept epoch",
        "stopped epoch",
        "planned epochs",
        "validation",
        "precision",
    ]
    assert choices["multvae"] == ["—", "12", "32", "200", "NDCG@100 0.4100", "bf16"]
    assert choices["ease"] == ["l2=300", "—", "—", "—", "NDCG@100 0.4000", "—"]
    assert choices["popularity"] == ["—"] * 6
    assert versus_ease["autoencoder"][0] == "P(model better)"
    assert versus_ease["multvae"] == ["0.000", "0.000", "1.000", "-0.1000"]
    assert "Each autoencoder against ease on test ndcg_at_100" in output["report_markdown"]


def test_models_scored_on_different_users_are_not_paired():
    results = _results(
        multvae=_result([0.5, 0.6], [0, 1]),
        popularity=_result([0.1, 0.2], [0, 2]),
    )
    with pytest.raises(DataError, match="different test users"):
        benchmark_report(results, SETTINGS)


def test_published_rows_are_marked_and_fill_only_their_own_columns():
    results = _results(
        multvae=_result([0.5, 0.6], [0, 1]),
        popularity=_result([0.1, 0.2], [0, 1]),
    )
    published = {
        "source": "He et al. 2020",
        "models": {"lightgcn": {"uncapped_recall_at_20": 0.183, "ndcg_at_20": 0.1554}},
    }
    output = benchmark_report(results, benchmark_settings(**REPORTED, published=published))
    assert output["report"]["published"] == published
    models = markdown_tables(output["report_markdown"])[0]
    assert models["lightgcn (**published**)"] == ["—", "—", "—", "0.1554", "0.1830", "—"]
    assert "not measured here; source: He et al. 2020" in output["report_markdown"]
    assert "min(K, n test items)" in output["report_markdown"]
