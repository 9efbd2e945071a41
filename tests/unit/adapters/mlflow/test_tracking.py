"""What a report's title says of the run: the MLflow run when tracked, the command, the date."""

import datetime
import sys

import mlflow

from tests.helpers.mlflow_store import tracking_into
from vaeops.adapters.mlflow.tracking import run_facts


def test_run_facts_name_the_active_run_or_none_the_command_and_today(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/work/.venv/bin/kedro", "run", "--params", "a=b c"])
    untracked = run_facts("ml-100k")
    assert untracked.run_id is None and untracked.dataset == "ml-100k"
    assert untracked.command == "kedro run --params 'a=b c'"
    assert untracked.date == datetime.date.today().isoformat()
    with tracking_into(tmp_path), mlflow.start_run() as run:
        assert run_facts("ml-100k").run_id == run.info.run_id
