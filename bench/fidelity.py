"""Multi-fidelity over data: the same search on big data, in chunks and whole, side by side.

One generated dataset of at least 50,000 sequences; the same study settings (space, trials,
seed, seeds of the final comparison) run twice, once with search epochs of 10,000-sequence
chunks and a fixed validation sample (`selector.training.fidelity`, the default from 20,000 training
sequences) and once reading the whole training split every epoch. Recorded for each: the time
to the verdict, the search's share of it, the sequences its trials read, how many trials were
pruned, and the verdict with each cell's chosen configuration, so that agreement is seen.

    python -m bench.fidelity                      # adding, 50,000 x 30 steps, 6 trials
    python -m bench.fidelity --quick              # a small dataset, 2 seed pairs: the smoke test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna

from bench._common import machine, table
from selector.api import RecommendRequest, SearchRequest, run_recommendation
from selector.data import load_dataset
from selector.process import flush_denormals
from selector.search.state import trial_attrs
from selector.training.fidelity import search_fidelity

SPACE = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: int, low: 8, high: 64, log: true}
  num_layers: {type: int, low: 1, high: 2}
  learning_rate: {type: float, low: 1.0e-3, high: 2.0e-2, log: true}
  batch_size: {type: categorical, choices: [64, 128]}
training: {max_epochs: 4, patience: 2, min_epochs_before_pruning: 1}
"""


def run(data: str, trials: int, chunks: bool, folder: Path, max_seeds: int | None) -> list[object]:
    space = folder / "space.yaml"
    space.write_text(SPACE)
    search = SearchRequest(data=data, space=str(space), n_trials=trials, seed=0,
                           storage=f"sqlite:///{folder / ('chunks' if chunks else 'whole')}.db",
                           tracking_uri=None, data_fidelity=chunks)
    started = time.perf_counter()
    result = run_recommendation(RecommendRequest(search=search, seeds=2, max_seeds=max_seeds,
                                                 register=False, output_dir=str(folder / "out")))
    took = time.perf_counter() - started
    study = optuna.load_study(study_name=search.resolved_study_name(), storage=search.storage)
    loaded = load_dataset(data)
    chunk = search_fidelity(loaded, seed=0, enabled=chunks).chunk or len(loaded.splits.train)
    seen = sum(len(trial_attrs(t).curves) for t in study.trials) * chunk
    search_s = sum(c.train_seconds for c in result.summary.cells)
    pruned = sum(c.pruned for c in result.summary.cells)
    chosen = {c["cell"]: c["config"] for c in result.document["final"]["cells"]}
    shapes = "; ".join(f"{cell.upper()} {k['hidden_size']}x{k['num_layers']} "
                       f"lr {k['learning_rate']:.1e}" for cell, k in chosen.items())
    return ["chunks" if chunks else "whole epochs", took, search_s, seen, pruned,
            f"{result.recommendation.verdict} ({result.recommendation.confidence})", shapes]


def main() -> None:
    flush_denormals()  # as the selector command does, before torch's threads start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="example:adding?length=30&n=50000")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--max-seeds", type=int, default=None,
                        help="the final comparison's most seed pairs (default: twice its 2)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.data, args.trials, args.max_seeds = "example:adding?length=5&n=30000", 4, 2
    print(f"# search in chunks vs whole epochs: {args.data}, {args.trials} trials\n{machine()}\n",
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for chunks in (True, False):
            rows.append(run(args.data, args.trials, chunks, Path(folder), args.max_seeds))
            print(table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(HEADER, rows))
    print(f"\nchunks / whole time to verdict: {rows[0][1] / rows[1][1]:.2f}; sequences read "
          f"in the search: {rows[0][3] / max(1, rows[1][3]):.2f}; verdicts agree: "
          f"{'yes' if rows[0][5].split()[0] == rows[1][5].split()[0] else 'no'}")


HEADER = ["search", "time to verdict s", "search training s", "sequences read", "pruned",
          "verdict", "chosen configurations"]

if __name__ == "__main__":
    main()
