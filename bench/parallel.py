"""Parallel scaling: trials per hour with 1 and 2 worker processes (``--jobs``).

The same search twice: one process using every core's torch threads, then ``--jobs 2``
processes with half the threads each (what `selector recommend --jobs 2` does), both on one
SQLite study and MLflow store, with the default fast GRU path. The space fixes everything but
the cell, and trials run a fixed number of epochs, so every trial costs about the same and the
throughputs compare. Worker start-up (spawning, imports, loading the data) is counted.

    python -m bench.parallel
    python -m bench.parallel --trials 8 --epochs 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna

from bench._common import machine, table
from selector.api import SearchRequest, search

SPACE = """\
description: Everything fixed but the cell (bench/parallel.py).
params:
  cell: {{type: categorical, choices: [gru, lstm]}}
  hidden_size: {{type: categorical, choices: [64]}}
  num_layers: {{type: categorical, choices: [1]}}
  bidirectional: {{type: categorical, choices: [false]}}
  learning_rate: {{type: categorical, choices: [0.003]}}
  batch_size: {{type: categorical, choices: [64]}}
  weight_decay: {{type: categorical, choices: [0.0001]}}
training:
  max_epochs: {epochs}
  patience: {epochs}
  min_epochs_before_pruning: {epochs}
"""


def run(jobs: int, data: str, trials: int, space: Path, folder: Path) -> tuple[float, int]:
    """(wall seconds, finished trials) of one search with ``jobs`` processes."""
    request = SearchRequest(data=data, space=str(space), study_name=f"jobs-{jobs}",
                            storage=f"sqlite:///{folder / 'optuna.db'}", n_trials=trials,
                            jobs=jobs, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
                            accelerator="cpu")
    start = time.perf_counter()
    search(request)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name=request.study_name, storage=request.storage)
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    return wall, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="example:adding?length=50&n=2000")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        space = folder / "fixed.yaml"
        space.write_text(SPACE.format(epochs=args.epochs))
        for jobs in (1, 2):
            wall, done = run(jobs, args.data, args.trials, space, folder)
            rows.append([jobs, done, wall, done / wall * 3600])
    print(f"Parallel scaling: {args.data}, {args.trials} trials of {args.epochs} epochs\n"
          f"{machine()}\n")
    print(table(["workers", "trials", "wall (s)", "trials per hour"], rows))
    print(f"\n2 workers / 1 worker throughput: {rows[1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main()
