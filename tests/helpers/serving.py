"""A real `mlflow models serve` of a registered model, and requests to it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from tests.conftest import free_port


def invocations(port: int, table: pd.DataFrame) -> list[dict]:
    """The served model's predictions for ``table``, sent as MLflow's ``dataframe_split``."""
    body = json.dumps({"dataframe_split": json.loads(table.to_json(orient="split",
                                                                   index=False))}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


@contextlib.contextmanager
def served(model_uri: str, env: dict[str, str] | None = None,
           start_within: float = 120.0) -> Iterator[int]:
    """`mlflow models serve -m model_uri` on 127.0.0.1 (this venv's packages), answering
    /ping; yields its port and stops it afterwards."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    server = subprocess.Popen(
        [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", model_uri,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(env or {}), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + start_within
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "mlflow models serve did not answer"
                time.sleep(1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
