"""`kedro run --pipeline augmentation`: tuning on the tuning partition only, each arm's
MLflow run, the generator views, and a short end-to-end run. The study's core logic
is tested without Kedro in tests/test_augmentation_*.py."""

import re

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.helpers.augmentation_settings import augmentation_parameters, augmentation_settings
from tests.helpers.mlflow_store import fresh_sqlite_store, tracking_into
from tests.helpers.single_thread import one_torch_thread  # noqa: F401 (fixture)
from tests.unit.augmentation.test_comparison import split_scores
from tests.unit.augmentation.test_datasets import small_moons
from vaeops.augmentation import protocol
from vaeops.augmentation.comparison import verdict
from vaeops.augmentation.datasets import plan_splits
from vaeops.augmentation.study import experiment_for
from vaeops.jobs.augmentation_tuning import tune_arm
from vaeops.pipelines.augmentation.nodes import (
    compare_with_no_augmentation,
    draw_generator_views,
    load_datasets,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST_ARMS = {
    "noise": {"n_trials": 2},
    "smote": {"n_trials": 2},
    "cvae": {"n_trials": 2, "settings": {"epochs": 30}},
}
FAST_CLASSIFIERS = {"mlp": {"epochs": 30}, "logistic_regression": {"max_iter": 200}}


def fast_parameters(**overrides) -> dict:
    """The shipped parameters with short training, few trials and 2 x 5 splits."""
    params = augmentation_parameters()
    params["protocol"]["repeats"] = 2
    for arm, changes in FAST_ARMS.items():
        params["arms"][arm]["n_trials"] = changes["n_trials"]
        params["arms"][arm]["settings"].update(changes.get("settings", {}))
    for classifier, changes in FAST_CLASSIFIERS.items():
        params["classifiers"][classifier].update(changes)
    params["n_jobs"] = 1
    params.update(overrides)
    return params


def test_tuning_sees_the_tuning_partition_only(monkeypatch, tmp_path):
    moons = small_moons()
    params = augmentation_settings(fast_parameters())
    plan = plan_splits(moons.y, params.protocol)
    experiment = experiment_for(moons, "10-per-class", params)
    used: list[np.ndarray] = []
    real = protocol.run_splits_together

    def recording(experiment, splits, arms_, seeds):
        used.extend(np.concatenate([split.train, split.test]) for split in splits)
        return real(experiment, splits, arms_, seeds)

    monkeypatch.setattr(protocol, "run_splits_together", recording)
    with tracking_into(tmp_path):  # each trial is an MLflow run
        settings, summary = tune_arm(
            experiment,
            plan,
            "noise",
            params.arms.noise.settings,
            params.arms.noise.search_space.model_dump(exclude_unset=True),
            3,
            params.tuning,
        )
    assert summary["n_trials"] == 3 and len(used) == 3 * params.tuning.inner_splits
    assert all(np.isin(rows, plan.tuning).all() for rows in used)
    assert set(settings.model_dump()) == {"ratio", "scale"}


def test_the_comparison_goes_to_each_arm_run(tmp_path):
    rng = np.random.default_rng(0)
    baseline = rng.normal(0.80, 0.02, 5)
    accuracies = {"none": baseline, "noise": baseline + 0.05, "smote": baseline.copy()}
    params = augmentation_settings()
    with tracking_into(tmp_path) as client:
        experiment = client.create_experiment("augmentation-test")
        run_ids = {arm: client.create_run(experiment).info.run_id for arm in accuracies}
        arm_settings = {
            "moons": {"full": {arm: {"mlflow_run_id": run_id} for arm, run_id in run_ids.items()}}
        }
        result = compare_with_no_augmentation(
            split_scores(accuracies), {"moons": small_moons()}, arm_settings, params
        )
        logged = {arm: client.get_run(run_id).data for arm, run_id in run_ids.items()}

    summary = result["summary"].set_index("arm")
    assert logged["noise"].metrics["mlp/accuracy/p_better"] == pytest.approx(
        summary.loc["noise", "p_better"]
    )
    assert logged["noise"].metrics["mlp/accuracy/mean"] == pytest.approx(baseline.mean() + 0.05)
    assert logged["noise"].metrics["mlp/n_synthetic"] == 80
    assert logged["noise"].tags["verdict.mlp"] == "helped"
    assert logged["smote"].tags["verdict.mlp"] == "equivalent"
    assert logged["none"].tags["verdict.mlp"] == "baseline"
    assert logged["none"].tags["augmentation.n_train"] == "80"
    assert "mlp/accuracy/p_better" not in logged["none"].metrics


def test_two_dimensional_data_gets_a_view_of_real_and_synthetic_points():
    params = fast_parameters(selected_datasets=["moons"])
    params["datasets"]["moons"].update(n_samples=300, regimes=["10-per-class", "imbalanced"])
    settings = augmentation_settings(params)
    datasets = load_datasets(settings)
    chosen = {
        "moons": {
            regime: {arm: {"settings": params["arms"][arm]["settings"]} for arm in params["arms"]}
            for regime in ("10-per-class", "imbalanced")
        }
    }
    views = draw_generator_views(datasets, chosen, settings)
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
        cells = rf"\|\s*5-per-class\s*\|\s*{row.classifier}\s*\|\s*{row.arm}\s*\|\s*50\s*\|"
        assert re.search(cells, report), f"no results row of {row.arm} with {row.classifier}"
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
