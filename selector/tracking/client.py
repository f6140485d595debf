"""The MLflow store: where it is, whether it can be used, and a checked client."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from mlflow import MlflowClient

from selector.defaults import DEFAULT_TRACKING_URI
from selector.errors import SelectorError, first_line, param
from selector.search.storage import check_sqlite_file, sqlite_file
from selector.urls import mask_url

MLFLOW_TABLES = {"experiments", "runs"}


def default_tracking_uri() -> str:
    """MLflow's convention: MLFLOW_TRACKING_URI if set, else the local store in this folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def local_artifact_root(uri: str) -> Path | None:
    """For a SQLite store, ``mlruns/`` beside the database file (MLflow itself would use the
    working folder, scattering artifacts wherever a command happens to run)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = uri[len("sqlite:///"):].split("?")[0]
    return Path(database).expanduser().resolve().parent / "mlruns" if database else None


def check_store_file(uri: str) -> None:
    """A SQLite tracking store that exists must be an MLflow one (see `check_sqlite_file`)."""
    database = sqlite_file(uri)
    if database is not None:
        check_sqlite_file(database, expected=MLFLOW_TABLES, what="the MLflow tracking store",
                          hint=f"Point {param('tracking_uri')} (or MLFLOW_TRACKING_URI) at another store.")


def local_folders(uri: str) -> list[Path]:
    """The folders a local tracking store writes to: none for a tracking server."""
    root = local_artifact_root(uri)
    if root is not None:
        return [root.parent, root]
    if uri.startswith("file:"):
        return [Path(urllib.parse.urlparse(uri).path)]
    return [] if "://" in uri else [Path(uri)]


def client_defaults() -> None:
    """MLflow client settings for a search; values the user has set are kept.

    HTTP retries default to 7 with exponential backoff: one call to a dead server would block
    the search for minutes, where these lose a few seconds, then go on and retry later. And a
    client for a server prints run links on stdout when a run ends (and fetches the run to do
    so), which would break ``--json`` output.
    """
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr is ours


def connect(uri: str) -> MlflowClient:
    """A client for ``uri``, checked with one cheap call: an unreachable store fails here."""
    client_defaults()
    check_store_file(uri)
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # MLflow, HTTP and database errors alike
        raise SelectorError(
            f"cannot use the MLflow tracking store {mask_url(uri)}: {first_line(exc)}. Check that "
            "it is running (and MLFLOW_TRACKING_USERNAME/PASSWORD for a server with auth), "
            f"point {param('tracking_uri')} (or MLFLOW_TRACKING_URI) at another store, or pass "
            f"{param('tracking', False)} to search without MLflow.") from None
    return client
