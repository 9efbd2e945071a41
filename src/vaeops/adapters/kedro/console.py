"""What every Kedro command prints around the run's own lines.

Two things a user can do nothing about are set right here: a warning about a class of
kedro-mlflow's that vaeops never uses, and rich's 80-column layout when the output goes
to a file or a pipe (cron, CI, ``make run > log``).
"""

from __future__ import annotations

import logging
import sys
import warnings

import rich.logging
from kedro.framework.project import LOGGING

# MLflow's notice about a PythonModel whose ``predict`` has no type hints.
TYPE_HINT_NOTICE = "Add type hints to the `predict` method"
# conf/logging.yml's handler for output that is not a terminal.
PLAIN_HANDLER = "console"


def import_kedro_mlflow_quietly() -> None:
    """Import kedro-mlflow's model module with MLflow's type-hint notice about it dropped.

    kedro-mlflow's ``KedroPipelineModel`` is a PythonModel whose ``predict`` has no type
    hints, so MLflow warns "Add type hints to the `predict` method", raw colour codes
    included, when ``kedro_mlflow.mlflow`` is first imported: as Kedro loads kedro-mlflow's
    commands, at the start of every command. vaeops never uses that class. MLflow raises
    the notice under its own "once" filter, ahead of any filter a project sets, so it is
    caught here, on a first import made before Kedro's (the ``kedro.init`` entry point in
    pyproject.toml, and ``mlflow_hook`` for sessions started in Python); any other warning
    of that import is issued again.
    """
    with warnings.catch_warnings(record=True) as caught:
        import kedro_mlflow.mlflow  # noqa: F401
    for warning in caught:
        if TYPE_HINT_NOTICE not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


class _CurrentStdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record comes, as rich's console does,
    so lines still arrive where a harness or notebook has redirected the output."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def plain_lines_off_terminal() -> None:
    """Off a terminal, log one plain line per record instead of rich's layout.

    Rich lays each record out in columns as wide as the terminal; with none it assumes 80,
    so a redirected log breaks messages and node names mid-word. When rich's console is
    not a terminal (rich's own test: ``FORCE_COLOR`` or ``TTY_COMPATIBLE=1`` keep rich),
    the root logger's rich handlers give way to one with the level and format of
    conf/logging.yml's ``console`` handler. Does nothing if that file has no such handler.
    """
    spec = LOGGING.data.get("handlers", {}).get(PLAIN_HANDLER)
    if spec is None:
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, rich.logging.RichHandler):
            continue
        if handler.console.is_terminal or handler.console.is_jupyter:
            continue
        root.removeHandler(handler)
        root.addHandler(_plain_handler(spec))


def _plain_handler(spec: dict) -> logging.Handler:
    formatter = LOGGING.data.get("formatters", {}).get(spec.get("formatter"), {})
    handler = _CurrentStdoutHandler()
    handler.setLevel(spec.get("level", logging.NOTSET))
    handler.setFormatter(logging.Formatter(formatter.get("format"), formatter.get("datefmt")))
    return handler
