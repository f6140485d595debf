"""Shared fixtures: small datasets written to temporary files in each accepted layout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selector.process import available_cpus, threads_per_worker


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (`make test`): one test process per CPU this run may use (a CI runner's
    quota included), not per core the machine has."""
    return available_cpus()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each test process, and the `selector` processes its tests start,
    gets its share of the CPUs for torch's threads, so that the workers never oversubscribe
    them (torch's threads spin while they wait)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch  # here: xdist's controlling process never needs it

        threads = threads_per_worker(workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def local_tracking_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test logs to its own MLflow store, never to ./mlflow.db in the checkout."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def selector(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The `selector` command as a user runs it, in its own process (``env`` adds variables)."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "selector", *args], cwd=cwd, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def long_frame(n_sequences: int = 30, *, classes: int = 2, seed: int = 0,
               min_len: int = 3, max_len: int = 9) -> pd.DataFrame:
    """One row per step; the label is repeated on every row of its sequence."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_sequences):
        label = f"c{i % classes}"
        for step in range(int(rng.integers(min_len, max_len + 1))):
            rows.append({"sequence_id": f"s{i}", "step": step, "a": rng.normal(),
                         "b": rng.normal() + i % classes, "label": label})
    return pd.DataFrame(rows)


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    long_frame().to_csv(path, index=False)
    return path


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


# Small enough to train in seconds, large enough to learn the small test tasks.
LEARNABLE = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: int, low: 12, high: 16}
  num_layers: {type: int, low: 1, high: 1}
  learning_rate: {type: float, low: 1.0e-2, high: 2.0e-2, log: true}
  batch_size: {type: categorical, choices: [16]}
training: {max_epochs: 12, patience: 4}
"""


TINY = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: int, low: 4, high: 16}
  num_layers: {type: int, low: 1, high: 2}
  learning_rate: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
  batch_size: {type: categorical, choices: [128, 256]}
training: {max_epochs: 3, patience: 2}
"""


@pytest.fixture
def tiny_space(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)
