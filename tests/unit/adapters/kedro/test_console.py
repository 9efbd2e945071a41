"""What every command prints: no notice about kedro-mlflow's model class, and plain lines
when the output is not a terminal."""

import io
import logging
import os
import subprocess
import sys

import pytest
from kedro.framework.project import LOGGING
from kedro.logging import RichHandler
from rich.console import Console

from vaeops.adapters.kedro.console import TYPE_HINT_NOTICE, plain_lines_off_terminal


def output_of(code: str) -> str:
    """What a fresh interpreter prints, every warning shown (Kedro's rich logging, set up
    when kedro_mlflow imports Kedro, sends them to stdout, wide enough not to wrap)."""
    finished = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout + finished.stderr


def test_kedro_mlflow_imports_without_mlflow_type_hint_notice():
    # Imported plainly, kedro-mlflow's model class draws the notice; the day it no
    # longer does, import_kedro_mlflow_quietly and its entry point can go.
    assert TYPE_HINT_NOTICE in output_of("import kedro_mlflow.mlflow")
    quiet = output_of(
        "from vaeops.adapters.kedro.console import import_kedro_mlflow_quietly\n"
        "import_kedro_mlflow_quietly()\n"
        "import kedro_mlflow.framework.hooks"
    )
    assert TYPE_HINT_NOTICE not in quiet


def test_the_project_hook_module_imports_quietly():
    assert TYPE_HINT_NOTICE not in output_of("import vaeops.adapters.kedro.mlflow_hook")


@pytest.fixture
def root_handlers(monkeypatch):
    """The root logger's handlers, restored afterwards; conf/logging.yml's plain handler."""
    monkeypatch.setattr(
        LOGGING,
        "data",
        {
            "formatters": {"simple": {"format": "%(levelname)s - %(message)s"}},
            "handlers": {"console": {"level": "INFO", "formatter": "simple"}},
        },
    )
    root = logging.getLogger()
    saved = list(root.handlers)
    yield root
    root.handlers[:] = saved


def rich_handler(**console) -> RichHandler:
    return RichHandler(console=Console(file=io.StringIO(), **console))


def test_off_a_terminal_each_record_is_one_plain_line(root_handlers, capsys):
    root_handlers.handlers[:] = [rich_handler()]
    plain_lines_off_terminal()
    [handler] = root_handlers.handlers
    assert not isinstance(handler, RichHandler)
    long_message = "node 4 of 12: " + "train_recommender_" * 8
    logger = logging.getLogger("tests.console")
    logger.setLevel(logging.DEBUG)
    logger.info(long_message)
    logger.debug("below the handler's level")
    assert capsys.readouterr().out == f"INFO - {long_message}\n"


def test_a_terminal_keeps_rich(root_handlers):
    terminal = rich_handler(force_terminal=True)
    root_handlers.handlers[:] = [terminal]
    plain_lines_off_terminal()
    assert root_handlers.handlers == [terminal]
