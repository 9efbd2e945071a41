"""A DataError raised in a node reaches the user as one short message naming the node, not
as a traceback; the traceback stays one environment variable away."""

import subprocess
import sys

import click
import mlflow
import pytest
from kedro.pipeline import node

from tests.helpers.mlflow_store import fresh_sqlite_store
from vaeops.adapters.kedro.hooks import TRACEBACK_VARIABLE, DataErrorHooks, NodeDataError
from vaeops.adapters.kedro.parameters import ParameterError
from vaeops.errors import DataError

INGESTION = node(lambda dataset: dataset, "params:dataset", "interactions", name="ingest")


@pytest.fixture
def without_traceback(monkeypatch):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)


def test_a_data_error_becomes_a_short_click_error_naming_the_node(without_traceback):
    cause = DataError("events.csv: user must be an integer (row 2: 196.5). Fix those rows.")
    with pytest.raises(NodeDataError) as raised:
        DataErrorHooks().on_node_error(cause, INGESTION)
    error = raised.value
    assert isinstance(error, click.ClickException) and isinstance(error, DataError)
    assert error.exit_code == 1 and error.__cause__ is cause
    assert error.format_message().startswith(f"node ingest stopped on its input: {cause}\n")
    assert f"{TRACEBACK_VARIABLE}=1" in error.format_message()


@pytest.mark.parametrize(
    "error", [ValueError("a bug"), ParameterError("Invalid parameters"), KeyError("x")]
)
def test_other_errors_keep_their_own_course(without_traceback, error):
    assert DataErrorHooks().on_node_error(error, INGESTION) is None


@pytest.mark.parametrize(("value", "converted"), [("1", False), ("0", True), ("", True)])
def test_the_traceback_variable_keeps_the_data_error_as_it_is(monkeypatch, value, converted):
    monkeypatch.setenv(TRACEBACK_VARIABLE, value)
    hooks = DataErrorHooks()
    if converted:
        with pytest.raises(NodeDataError):
            hooks.on_node_error(DataError("bad"), INGESTION)
    else:
        assert hooks.on_node_error(DataError("bad"), INGESTION) is None


def test_kedro_run_on_a_fractional_user_id_prints_one_message(kedro_project, monkeypatch):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    tracking_uri = fresh_sqlite_store(kedro_project / "mlflow.db")
    events = kedro_project / "events.csv"
    events.write_text("user_id,item_id,rating,timestamp\n1,10,4,100\n196.5,11,5,100\n")

    finished = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "ingestion"]
        + ["--params", f"dataset.name=custom,dataset.path={events}"],
        cwd=kedro_project,
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, output
    assert "Traceback" not in output
    # click prints the error alone on stderr; Kedro's log lines go to stdout.
    message = finished.stderr[finished.stderr.index("Error: ") :]
    assert message.startswith(f"Error: node ingest_interactions stopped on its input: {events}")
    assert "user must be an integer in every row, but 1 row(s) are not (row 2: 196.5" in message
    assert len(message.strip().splitlines()) == 2, message
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("vaeops")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED", "kedro-mlflow still closed its run"
