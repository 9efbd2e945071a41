"""`kedro run --pipeline augmentation`: splits that never leak, arms that add what they
promise, verdicts that follow the probabilities, and a short end-to-end run."""

import copy

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.mlflow_store import fresh_sqlite_store, tracking_into
from tests.single_thread import one_torch_thread  # noqa: F401 (fixture)
from vaeops.errors import DataError
from vaeops.augmentation import arms
from vaeops.pipelines.augmentation import protocol
from vaeops.augmentation.datasets import (
    LabelledData,
    Regime,
    Scaler,
    load_dataset,
    plan_splits,
    subsample,
)
from vaeops.pipelines.augmentation.nodes import (
    compare_arms,
    experiment_for,
    load_datasets,
    verdict,
)
from vaeops.pipelines.augmentation.report import draw_generator_views

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PARAMETERS = yaml.safe_load((REPO_ROOT / "conf/base/parameters_augmentation.yml").read_text())[
    "augmentation"
]
FAST_ARMS = {
    "noise": {"n_trials": 2},
    "smote": {"n_trials": 2},
    "cvae": {"n_trials": 2, "settings": {"epochs": 30}},
}
FAST_CLASSIFIERS = {"mlp": {"epochs": 30}, "logistic_regression": {"max_iter": 200}}
SENTINEL = 1.0e6


def fast_parameters(**overrides) -> dict:
    """The shipped parameters with short training, few trials and 2 x 5 splits."""
    params = copy.deepcopy(PARAMETERS)
    params["protocol"]["repeats"] = 2
    for arm, changes in FAST_ARMS.items():
        params["arms"][arm]["n_trials"] = changes["n_trials"]
        params["arms"][arm]["settings"].update(changes.get("settings", {}))
    for classifier, changes in FAST_CLASSIFIERS.items():
        params["classifiers"][classifier].update(changes)
    params["n_jobs"] = 1
    params.update(overrides)
    return params


@pytest.fixture(scope="module")
def moons() -> LabelledData:
    return load_dataset(
        "moons",
        {"source": "moons", "n_samples": 300, "noise": 0.3, "seed": 0, "scaling": "standardize"},
    )


# ---- splits and regimes ---------------------------------------------------------------


def test_tuning_partition_folds_and_regimes_never_overlap(moons):
    plan = plan_splits(moons.y, {"repeats": 3, "folds": 5, "tuning_fraction": 0.2, "seed": 1})
    assert len(plan.splits) == 15
    assert not np.intersect1d(plan.tuning, plan.evaluation).size
    assert np.array_equal(np.union1d(plan.tuning, plan.evaluation), np.arange(len(moons.y)))
    assert np.bincount(moons.y[plan.tuning]).tolist() == [30, 30]  # stratified
    for repeat in range(3):
        tests = [split.test for split in plan.splits if split.repeat == repeat]
        assert np.array_equal(
            np.sort(np.concatenate(tests)), plan.evaluation
        )  # each row tested once a repeat
    regime = Regime.from_params("8-per-class", {"per_class": 8})
    for split in plan.splits:
        assert not np.intersect1d(split.train, split.test).size
        assert not np.intersect1d(split.train, plan.tuning).size
        rows = subsample(split.train, moons.y, regime, 0, np.random.default_rng(0))
        assert np.isin(rows, split.train).all()
        assert np.bincount(moons.y[rows]).tolist() == [8, 8]


def test_regimes_cut_the_training_fold_as_configured(moons):
    rows = np.arange(len(moons.y))
    rng = np.random.default_rng(0)
    half = subsample(rows, moons.y, Regime.from_params("half", {"fraction": 0.5}), 0, rng)
    assert np.bincount(moons.y[half]).tolist() == [75, 75]
    imbalanced = Regime.from_params(
        "imbalanced", {"fraction": 1.0, "minority_ratio": 0.1, "mlp": {"loss": "focal"}}
    )
    kept = subsample(rows, moons.y, imbalanced, 1, rng)
    assert np.bincount(moons.y[kept]).tolist() == [150, 15]  # class 1 is the minority here
    with pytest.raises(DataError, match="needs 200 rows of class 0"):
        subsample(rows, moons.y, Regime.from_params("big", {"per_class": 200}), 0, rng)
    with pytest.raises(ValueError, match="exactly one of per_class and fraction"):
        Regime.from_params("both", {"per_class": 5, "fraction": 0.5})
    with pytest.raises(ValueError, match="unknown keys"):
        Regime.from_params("typo", {"per_clas": 5})


def test_the_regime_overrides_only_the_mlp(moons):
    experiment = experiment_for(moons, "imbalanced", PARAMETERS)
    assert experiment.classifiers["mlp"]["loss"] == "focal"
    assert PARAMETERS["classifiers"]["mlp"]["loss"] == "cross_entropy"


# ---- leakage: what reaches the scaler and the generators --------------------------------


def spy_on_augmenters(monkeypatch) -> list[tuple[str, list[np.ndarray]]]:
    """Record every training array handed to an augmenter or to the CVAE's fit."""
    seen: list[tuple[str, list[np.ndarray]]] = []

    def spy(name, function):
        def recording(xs, *args, **kwargs):
            seen.append((name, [np.array(x, copy=True) for x in xs]))
            return function(xs, *args, **kwargs)

        return recording

    for name, function in list(arms.AUGMENTERS.items()):
        monkeypatch.setitem(arms.AUGMENTERS, name, spy(name, function))
    monkeypatch.setattr(arms, "fit_cvaes", spy("fit_cvaes", arms.fit_cvaes))
    return seen


def test_no_test_row_reaches_a_scaler_or_a_generator(moons, monkeypatch):
    params = fast_parameters()
    plan = plan_splits(moons.y, params["protocol"])
    chosen = {arm: params["arms"][arm]["settings"] for arm in params["selected_arms"]}
    seen = spy_on_augmenters(monkeypatch)
    for split in plan.splits[:2]:
        # The split's test rows carry a sentinel value; a scaler fitted on them would
        # also shift and shrink the training rows.
        x = moons.x.copy()
        x[split.test] = SENTINEL
        experiment = experiment_for(
            LabelledData(**{**moons.__dict__, "x": x}), "10-per-class", params
        )
        seed = protocol.split_seed(experiment.seed, split)
        seen.clear()
        results = protocol.run_splits_together(experiment, [split], chosen, [seed])
        assert {name for name, _ in seen} == {"noise", "smote", "cvae", "fit_cvaes"}
        rows = protocol.training_rows(experiment, split, seed)
        assert not np.isin(rows, split.test).any()
        expected = Scaler.fit(moons.x[rows], "standardize").transform(moons.x[rows])
        for name, arrays in seen:
            [received] = arrays
            assert np.abs(received).max() < 100, f"{name} received a sentinel (test) row"
            np.testing.assert_allclose(
                received, expected, err_msg=f"{name} got other rows than the training rows"
            )
        assert {row["arm"] for row in results} == set(chosen)
        assert all(row["n_train"] == 20 and row["n_test"] == len(split.test) for row in results)


def test_tuning_sees_the_tuning_partition_only(moons, monkeypatch, tmp_path):
    params = fast_parameters()
    plan = plan_splits(moons.y, params["protocol"])
    experiment = experiment_for(moons, "10-per-class", params)
    used: list[np.ndarray] = []
    real = protocol.run_splits_together

    def recording(experiment, splits, arms_, seeds):
        used.extend(np.concatenate([split.train, split.test]) for split in splits)
        return real(experiment, splits, arms_, seeds)

    monkeypatch.setattr(protocol, "run_splits_together", recording)
    with tracking_into(tmp_path):  # each trial is an MLflow run
        settings, summary = protocol.tune_arm(
            experiment,
            plan,
            "noise",
            params["arms"]["noise"]["settings"],
            params["arms"]["noise"]["search_space"],
            3,
            params["tuning"],
        )
    assert summary["n_trials"] == 3 and len(used) == 3 * params["tuning"]["inner_splits"]
    assert all(np.isin(rows, plan.tuning).all() for rows in used)
    assert set(settings) == {"ratio", "scale"}


# ---- the arms ----------------------------------------------------------------------------


def test_every_arm_tops_each_class_up_to_the_same_count():
    labels = np.array([0] * 6 + [1] * 3)
    assert arms.synthetic_counts(labels, 2, ratio=1.0).tolist() == [6, 9]  # both classes end at 12
    assert arms.synthetic_counts(labels, 3, ratio=0.5).tolist() == [
        3,
        6,
        0,
    ]  # an absent class stays absent
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (6, 2)), rng.normal(2, 1, (3, 2))])
    settings = {
        "noise": {"ratio": 1.0, "scale": 0.1},
        "smote": {"ratio": 1.0, "k_neighbors": 5},
        "cvae": {**PARAMETERS["arms"]["cvae"]["settings"], "epochs": 20},
    }
    for arm, arm_settings in settings.items():
        [(augmented_x, augmented_y)] = arms.augment(
            arm, [x], [labels], 2, arm_settings, [0], "standardize"
        )
        np.testing.assert_array_equal(augmented_x[:9], x)  # the real rows come first, untouched
        assert np.bincount(augmented_y).tolist() == [12, 12], arm
    # Noise stays near its source rows; SMOTE lies on segments between two rows of its class.
    [(noisy, _)] = arms.augment("noise", [x], [labels], 2, settings["noise"], [0], "standardize")
    assert np.linalg.norm(noisy[9:, None, :] - x[None], axis=2).min(axis=1).max() < 1.0
    [(smoted, smoted_y)] = arms.augment(
        "smote", [x], [labels], 2, settings["smote"], [0], "standardize"
    )
    for row, label in zip(smoted[9:], smoted_y[9:], strict=True):
        own = x[labels == label]
        to_row = np.linalg.norm(own - row, axis=1)
        between = np.linalg.norm(own[:, None] - own[None], axis=2)
        assert np.isclose(to_row[:, None] + to_row[None], between, atol=1e-9).any()


def test_the_confidence_filter_keeps_only_believable_rows(moons):
    x = Scaler.fit(moons.x, "standardize").transform(moons.x)
    settings = {**PARAMETERS["arms"]["cvae"]["settings"], "epochs": 60, "min_confidence": 0.9}
    [(synthetic_x, synthetic_y)] = arms.cvae_rows([x], [moons.y], 2, settings, [0], "gaussian")
    judge = arms._logistic_regression({"C": 1.0, "max_iter": 1000}).fit(x, moons.y)
    confidence = judge.predict_proba(synthetic_x)[np.arange(len(synthetic_y)), synthetic_y]
    assert len(synthetic_y) > 0 and confidence.min() >= 0.9


def test_arm_settings_are_checked():
    with pytest.raises(ValueError, match="must give exactly"):
        arms.check_arm_settings("noise", {"ratio": 1.0})
    with pytest.raises(ValueError, match="Unknown augmentation arm"):
        arms.check_arm_settings("mixup", {})
    with pytest.raises(ValueError, match="must include 'none'"):
        load_datasets({**PARAMETERS, "selected_arms": ["noise"]})


# ---- statistics and verdicts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ((0.0, 0.02, 0.98), "helped"),
        ((0.97, 0.03, 0.0), "hurt"),
        ((0.01, 0.96, 0.03), "equivalent"),
        ((0.1, 0.6, 0.3), "inconclusive"),
        ((0.0, 0.05, 0.95), "inconclusive"),
    ],
)
def test_verdicts_follow_the_probabilities(probabilities, expected):
    assert verdict(*probabilities, decision_probability=0.95) == expected


def test_compare_arms_pairs_splits_and_logs_each_arm(moons, tmp_path):
    rng = np.random.default_rng(0)
    baseline = rng.normal(0.80, 0.02, 50)
    scores = {
        "none": baseline,
        "noise": baseline + rng.normal(0.05, 0.005, 50),
        "smote": baseline.copy(),
    }
    rows = [
        {
            "dataset": "moons",
            "regime": "10-per-class",
            "arm": arm,
            "classifier": "mlp",
            "repeat": k // 5,
            "fold": k % 5,
            "n_train": 20,
            "n_synthetic": 0 if arm == "none" else 20,
            "n_test": 48,
            "n_train_fold": 192,
            "accuracy": value,
            "balanced_accuracy": value,
            "macro_f1": value,
            "minority_recall": value,
        }
        for arm, values in scores.items()
        for k, value in enumerate(values)
    ]
    frame = pd.DataFrame(rows).sample(
        frac=1.0, random_state=0
    )  # the pairing must not rely on row order
    with tracking_into(tmp_path) as client:
        experiment = client.create_experiment("augmentation-test")
        run_ids = {arm: client.create_run(experiment).info.run_id for arm in scores}
        arm_settings = {
            "moons": {
                "10-per-class": {arm: {"mlflow_run_id": run_id} for arm, run_id in run_ids.items()}
            }
        }

        result = compare_arms(frame, {"moons": moons}, arm_settings, PARAMETERS)
        logged = client.get_run(run_ids["noise"]).data

    summary = result["summary"].set_index("arm")
    assert summary.loc["noise", "verdict"] == "helped"
    assert summary.loc["smote", "verdict"] == "equivalent" and summary.loc["smote", "p_rope"] == 1.0
    assert summary.loc["none", "verdict"] == "baseline"
    assert summary.loc["noise", "difference"] == pytest.approx(np.mean(scores["noise"] - baseline))
    assert len(result["tests"]) == 2 * 4  # two arms x four metrics
    assert logged.metrics["mlp/accuracy/p_better"] == pytest.approx(
        summary.loc["noise", "p_better"]
    )
    assert logged.metrics["mlp/accuracy/mean"] == pytest.approx(scores["noise"].mean())
    assert logged.tags["verdict.mlp"] == "helped"


# ---- pictures of the generators ------------------------------------------------------------


def test_two_dimensional_data_gets_a_view_of_real_and_synthetic_points(moons):
    params = fast_parameters(selected_datasets=["moons"])
    params["datasets"]["moons"].update(n_samples=300, regimes=["10-per-class", "imbalanced"])
    datasets = load_datasets(params)
    chosen = {
        "moons": {
            regime: {arm: {"settings": params["arms"][arm]["settings"]} for arm in params["arms"]}
            for regime in ("10-per-class", "imbalanced")
        }
    }
    views = draw_generator_views(datasets, chosen, params)
    assert list(views["figures"]) == ["moons_real_and_synthetic.png"] == list(views["captions"])
    axes = views["figures"]["moons_real_and_synthetic.png"].axes
    assert [axis.get_title().split(":")[0] for axis in axes] == ["10-per-class"] * 3 + [
        "imbalanced"
    ] * 3


# ---- end to end ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_pipeline_writes_the_report_and_one_mlflow_run_per_arm(run_kedro, kedro_project):
    fresh_sqlite_store(kedro_project / "mlflow.db")
    params = {
        "selected_datasets": ["digits"],
        "datasets": {"digits": {"regimes": ["5-per-class"]}},
        "protocol": {"repeats": 2},
        "arms": {
            arm: {"n_trials": changes["n_trials"], "settings": changes.get("settings", {})}
            for arm, changes in FAST_ARMS.items()
        },
        "classifiers": FAST_CLASSIFIERS,
        "splits_per_task": 5,
    }
    run_kedro("augmentation", augmentation=params)

    report = (kedro_project / "data/08_reporting/augmentation_report.md").read_text()
    summary = pd.read_csv(kedro_project / "data/08_reporting/augmentation/results.csv")
    assert len(summary) == 4 * 2  # arms x classifiers
    assert set(summary["n_splits"]) == {10}
    for row in summary[summary["arm"] != "none"].itertuples():
        assert row.verdict == verdict(row.p_worse, row.p_rope, row.p_better, 0.95)
        assert f"| 5-per-class | {row.classifier} | {row.arm} | 50 |" in report
    assert "## Verdicts" in report and "![" in report
    for picture in (
        "accuracy_vs_size.png",
        "generator/digits_real_and_synthetic.png",
        "generator/digits_interpolation.png",
    ):
        assert (kedro_project / "data/08_reporting/augmentation" / picture).is_file()
        assert f"(augmentation/{picture})" in report

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name("vaeops").experiment_id
    runs = client.search_runs([experiment_id])
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    arm_runs = {
        run.data.tags["augmentation.arm"]: run
        for run in runs
        if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert sorted(arm_runs) == ["cvae", "noise", "none", "smote"]
    for arm, run in arm_runs.items():
        assert run.info.run_name == f"digits/5-per-class/{arm}"
        assert {"mlp/accuracy/mean", "logistic_regression/macro_f1/sd"} <= set(run.data.metrics)
        trials = [
            child for child in runs if child.data.tags.get("mlflow.parentRunId") == run.info.run_id
        ]
        if arm == "none":
            assert not trials and "mlp/accuracy/p_better" not in run.data.metrics
            continue
        assert len(trials) == FAST_ARMS[arm]["n_trials"]
        row = summary[(summary["arm"] == arm) & (summary["classifier"] == "mlp")].iloc[0]
        assert run.data.metrics["mlp/accuracy/p_better"] == pytest.approx(row.p_better)
        assert run.data.tags["verdict.mlp"] == row.verdict
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "augmentation")}
    assert {
        "augmentation/augmentation_report.md",
        "augmentation/results.csv",
        "augmentation/accuracy_vs_size.png",
        "augmentation/generator",
    } <= artifacts
