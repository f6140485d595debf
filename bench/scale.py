"""Scale: does `selector recommend --budget` hold, and what does it decide, as data grows?

Each cell of the grid runs the real command in a fresh process, on a generated dataset
(`example:adding` regression, `example:copy` copy-memory classification and `example:drift`
classification, each at n sequences of a given length, once per --seed), with MLflow tracking and model
registration in a temporary folder, exactly as a user would. Recorded per run: the wall time
from process start to exit, the overrun beyond the budget (it must stay within
`selector.training.budget.tolerance`), the peak resident memory, the trials the search ran, the verdict
and its confidence, whether a verdict was reached, the handed-over model's test score (the
refit's, else its cell's mean over seeds), and how many things the budget cut. Each budget
ends with the share of its runs that reached a verdict.

    python -m bench.scale                                  # the full grid, --budget 120 each
    python -m bench.scale --tasks adding --sizes 1000 50000 --lengths 50 2000 --budget 90
    python -m bench.scale --tasks adding --sizes 8000 --lengths 400 --budget 900 --seeds 0 1 2 3 4
    python -m bench.scale --quick                          # one small run, for the smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import machine, table
from selector.training.budget import tolerance

TASKS = ("adding", "copy", "drift")
SIZES = (1_000, 10_000, 50_000)
LENGTHS = (50, 400, 2_000)


def run(task: str, n: int, length: int, budget: float, seed: int = 0) -> list[object]:
    """One `selector recommend --seed` in a fresh process and folder; one row of the table."""
    source = f"example:{task}?length={length}&n={n}"
    with tempfile.TemporaryDirectory(prefix="selector-scale-") as folder:
        out_path, err_path = Path(folder, "out.json"), Path(folder, "err.txt")
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "selector", "recommend", source, "--budget",
                 f"{budget:g}", "--seed", str(seed), "--json", "--quiet"], cwd=folder, stdout=out_file,
                stderr=err_file, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss / 1024  # Linux reports KiB
        out, err = out_path.read_text(), err_path.read_text()
        if code != 0:
            print(f"{source}: exit {code}\n{err[-4000:]}", file=sys.stderr, flush=True)
            reason = (err.strip().splitlines() or ["?"])[-1][:60]
            return [task, n, length, seed, budget, wall, max(0.0, wall - budget),
                    _ok(wall, budget), peak, "-", "-", f"exit {code}: {reason}", "no", "-", "-"]
    document = json.loads(out)
    final = document["final"]
    return [task, n, length, seed, budget, wall, max(0.0, wall - budget), _ok(wall, budget),
            peak, document["search"]["n_trials"], _cut(document["search"]["cells"]),
            f"{document['verdict']} ({document['confidence']})",
            "yes" if document["verdict"] else "no", _handed_over_score(document),
            len(final.get("budget_notes", []))]


def _cut(cells: list[dict[str, Any]]) -> str:
    """Trials pruned, and rejected untrained (priced over what one trial may take)."""
    return f"{sum(c['pruned'] for c in cells)} ({sum(c['rejected'] for c in cells)})"


def _handed_over_score(document: dict[str, Any]) -> float | str:
    """The test score of the model handed over: the refit's, else its cell's seed mean."""
    refit = document["final"].get("refit")
    if refit:
        return float(refit["test_score"])
    chosen = [c for c in document["cells"] if c["cell"] == document["verdict"]]
    return float(chosen[0]["test_mean"]) if chosen else "-"


def _ok(wall: float, budget: float) -> str:
    return "yes" if wall <= budget + tolerance(budget) else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
    parser.add_argument("--budget", nargs="+", type=float, default=[120.0],
                        help="seconds; several budgets run the grid at each")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="selector's --seed: each grid cell runs once per seed")
    parser.add_argument("--quick", action="store_true", help="one small run (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.sizes, args.lengths, args.budget = ["adding"], [600], [30], [40.0]
    print(f"# selector recommend --budget at scale\n{machine()}\n"
          f"tolerance: max(10 s, 5% of the budget)\n", flush=True)
    rows = []
    for budget in args.budget:
        for task in args.tasks:
            for n in args.sizes:
                for length in args.lengths:
                    for seed in args.seeds:
                        rows.append(run(task, n, length, budget, seed))
                        print(table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(HEADER, rows))
    for budget in args.budget:
        reached = [r[12] == "yes" for r in rows if r[4] == budget]
        print(f"budget {budget:g} s: a verdict in {sum(reached)} of {len(reached)} runs")


HEADER = ["task", "sequences", "length", "seed", "budget s", "wall s", "overrun s", "within tolerance",
          "peak MiB", "trials", "pruned (rejected)", "verdict", "verdict reached",
          "handed-over test", "budget cuts"]

if __name__ == "__main__":
    main()
