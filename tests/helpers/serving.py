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


def serve_command(model: str, host: str, port: int, bin_dir: str = "") -> list[str]:
    """`mlflow models serve` of ``model`` in the environment it runs in, as the serving image
    (serving/Dockerfile) runs it."""
    mlflow = str(Path(bin_dir) / "mlflow") if bin_dir else "mlflow"
    return [mlflow, "models", "serve", "-m", model, "--env-manager", "local", "-h", host,
            "-p", str(port)]


@contextlib.contextmanager
def served(model_uri: str, env: dict[str, str] | None = None, start_within: float = 120.0,
           python: str = sys.executable) -> Iterator[int]:
    """`mlflow models serve -m model_uri` on 127.0.0.1 (the packages of ``python``'s venv),
    answering /ping; yields its port and stops it afterwards."""
    port = free_port()
    bin_dir = str(Path(python).parent)
    server = subprocess.Popen(
        serve_command(model_uri, "127.0.0.1", port, bin_dir=bin_dir),
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


TRAINING_STACK = ("torch", "lightning", "optuna", "scipy", "sklearn")
SERVE_SCRIPT = """
import importlib.abc, json, sys
from pathlib import Path

class Refuse(importlib.abc.MetaPathFinder):  # serving must never import the training stack
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {stack}:
            raise ImportError(f"serving imported {{name}}")

sys.meta_path.insert(0, Refuse())
import mlflow.pyfunc, numpy as np, pandas as pd

source = Path(sys.argv[2])
if source.suffix == ".npz":
    with np.load(source) as archive:
        request = {{k: archive[k] for k in archive.files if k in ("X", "lengths")}}
else:
    request = pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)
mlflow.pyfunc.load_model(sys.argv[1]).predict(request).to_csv(sys.argv[3], index=False)
import selector
print(json.dumps({{"selector": selector.__file__,
                  "imported": sorted(m for m in {stack} if m in sys.modules)}}))
"""


def serve_without_training_stack(model_uri: str, data: Path, *, python: str = sys.executable,
                                 env: dict[str, str] | None = None) -> tuple[pd.DataFrame, str]:
    """``mlflow.pyfunc.load_model(model_uri).predict`` on the file ``data``, in a process
    where importing torch, Lightning, Optuna, SciPy or scikit-learn fails; returns the
    predictions and the file the served ``selector`` package was imported from."""
    script = data.parent / "serve_check.py"
    script.write_text(SERVE_SCRIPT.format(stack=set(TRAINING_STACK)))
    out = data.parent / f"served-{data.stem}.csv"
    done = subprocess.run([python, str(script), model_uri, str(data), str(out)],
                          env={**os.environ, **(env or {})}, cwd=data.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["imported"] == [], found
    return pd.read_csv(out), found["selector"]


def serving_venv(model: Path, venv: Path) -> str:
    """A fresh venv with only the served model's requirements (``model``: a local MLflow
    model folder) installed from the package index; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                "-r", str(model / "requirements.txt")],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr
    return python
