"""The schedulers under deploy/ run the retraining pipeline; the Airflow DAG is kedro-airflow's."""

import ast
import configparser
import shlex

from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project
from kedro_airflow.plugin import commands

from tests.conftest import REPO_ROOT
from tests.helpers.mlflow_store import fresh_sqlite_store

DEPLOY = REPO_ROOT / "deploy"
COMMITTED_DAG = DEPLOY / "airflow" / "vaeops_retraining_dag.py"
RETRAIN = ["kedro", "run", "--pipelines", "retraining"]


def test_the_committed_airflow_dag_is_what_kedro_airflow_generates(kedro_project, tmp_path):
    fresh_sqlite_store(kedro_project / "mlflow.db")  # the session opens it
    result = CliRunner().invoke(
        commands,
        [
            "airflow",
            "create",
            "--pipelines",
            "retraining",
            "--group-by",
            "memory",
            "--target-dir",
            str(tmp_path),
        ],
        obj=bootstrap_project(kedro_project),
    )
    assert result.exit_code == 0, result.output
    generated = (tmp_path / COMMITTED_DAG.name).read_text()
    assert generated == COMMITTED_DAG.read_text(), (
        "deploy/airflow is stale: regenerate it with `kedro airflow create --pipelines retraining "
        "--group-by memory --target-dir deploy/airflow`"
    )
    tree = ast.parse(generated)
    compile(tree, str(COMMITTED_DAG), "exec")
    # The in-memory hand-over between the two nodes needs them in one Airflow task.
    runs = [
        call
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_run_kedro_node"
    ]
    assert len(runs) == 1
    (node_names,) = [keyword.value for keyword in runs[0].keywords if keyword.arg == "node_names"]
    assert ast.literal_eval(node_names) == ["ingest_current_interactions", "retrain_and_decide"]
    assert 'schedule="17 3 * * *"' in generated and "max_active_runs=1" in generated


def test_cron_and_systemd_run_the_retraining_pipeline_nightly():
    cron_lines = [
        line
        for line in (DEPLOY / "cron" / "vaeops-retrain.cron").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    (job,) = cron_lines
    assert job.split()[:5] == ["17", "3", "*", "*", "*"]
    assert " ".join(RETRAIN) in job and job.endswith(">> logs/retraining.log 2>&1")

    service = configparser.ConfigParser(interpolation=None)
    service.read(DEPLOY / "systemd" / "vaeops-retrain.service")
    assert service["Service"]["Type"] == "oneshot"
    assert shlex.split(service["Service"]["ExecStart"])[1:] == RETRAIN[1:]
    assert shlex.split(service["Service"]["ExecStart"])[0].endswith("/.venv/bin/kedro")

    timer = configparser.ConfigParser(interpolation=None)
    timer.read(DEPLOY / "systemd" / "vaeops-retrain.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 03:17:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "vaeops-retrain.service"
