"""Stop `kedro run` at once when its MLflow tracking server does not answer.

MLflow's HTTP client retries a failed request 7 times with exponential backoff
(MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR; up to 120 s a
try, MLFLOW_HTTP_REQUEST_TIMEOUT), which rides out a server restart during a run but
makes a mistyped or dead URI look like a hung `kedro run` for minutes. One request
without retries, before kedro-mlflow first contacts the server, tells the two apart.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

import click
from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from vaeops.secrets import mask_text

PROBE_TIMEOUT_SECONDS = 5
# kedro-mlflow reads mlflow.yml through these patterns and adds them in its own
# after_context_created, which runs after this check.
MLFLOW_CONFIG_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]


class TrackingServerUnreachable(click.ClickException):
    """As a ClickException, `kedro run` prints the message alone and exits with status 1."""


def check_tracking_server(uri: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Raise TrackingServerUnreachable when ``uri`` is an http(s) server that gives no
    answer, or only a 5xx one (a proxy whose server is down); a store in a file or a
    database needs no server. Any other answer, 401 or 404 included, is a server that
    MLflow reaches, with the same proxy and TLS settings as MLflow's own requests."""
    if urlparse(uri).scheme not in ("http", "https"):
        return
    try:
        response = http_request(
            get_default_host_creds(uri),
            "/health",
            "GET",
            max_retries=0,
            timeout=timeout,
            raise_on_status=False,
        )
    except MlflowException as error:
        problem = _failure(str(error), timeout)
    else:
        if response.status_code < 500:
            return
        problem = f"it answered HTTP {response.status_code}"
    raise TrackingServerUnreachable(
        f"The MLflow tracking server {mask_text(uri)} is unreachable ({mask_text(problem)}); "
        "nothing ran. Start "
        "it, or point the run at one that answers: set MLFLOW_TRACKING_URI (e.g. "
        "MLFLOW_TRACKING_URI=sqlite:///mlflow.db, the project's local store) or "
        "server.mlflow_tracking_uri in conf/local/mlflow.yml."
    )


def configured_tracking_uri(context: KedroContext) -> str:
    """The URI kedro-mlflow will use: mlflow.yml's server.mlflow_tracking_uri, else
    MLFLOW_TRACKING_URI, else its default local folder."""
    context.config_loader.config_patterns.setdefault("mlflow", MLFLOW_CONFIG_PATTERNS)
    try:
        uri = context.config_loader["mlflow"].get("server", {}).get("mlflow_tracking_uri")
    except MissingConfigException:
        uri = None
    return uri or os.environ.get("MLFLOW_TRACKING_URI", "mlruns")


class TrackingServerHooks:
    """``tryfirst``: kedro-mlflow's after_context_created sets the experiment, the first
    request to the server, which is where a dead URI would retry for minutes."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        check_tracking_server(configured_tracking_uri(context))


def _failure(message: str, timeout: float) -> str:
    """The operating system's words from requests' long chain of wrapped errors."""
    if "timed out" in message.lower():
        return f"no answer within {timeout:g} s"
    error = re.search(r"\[Errno -?\d+\] ([^\"')]+)", message)
    return error.group(1).strip().lower() if error else message
