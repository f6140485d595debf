"""Does the default run name the cell the literature expects? Whole recommendations, by seed.

`bench.decision` checks the comparison's statistics on pools of trained models. This bench
checks the verdict a user gets: `selector.recommend` with its defaults (search, sequential
comparison, decision), one whole run per seed, on tasks where the literature names a winner:

  - ``counting`` (`example:counting`, a^n b^n up to 200): an LSTM's additive cell state keeps
    an exact count and a GRU's interpolated state cannot (Weiss, Goldberg & Yahav 2018), so
    the claim is LSTM, clear. That result is about counts beyond those trained on; within
    them both cells count (see `example:counting`), so this row tests the claim rather than
    assuming it;
  - ``adding`` (`example:adding`, length 100): a GRU learns it as well and is cheaper (Bai,
    Kolter & Koltun 2018); the claim is GRU.

Each run prints one row as it ends and, with ``--out``, appends it to a JSON-lines file; a
rerun with the same file skips the (task, seed) runs already there, so a run of hours can be
stopped and resumed. The table ends with how many seeds gave the expected verdict.

    python -m bench.verdicts                          # both tasks, seeds 0-4 (hours on 2 cores)
    python -m bench.verdicts --tasks counting --seeds 0,1 --budget 2700 --out verdicts.jsonl
    python -m bench.verdicts --quick                  # tiny data and search (the smoke test)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import machine, table


@dataclass(frozen=True)
class Task:
    source: str
    quick: str  # tiny data of the same kind, for --quick
    expected: str  # the cell the literature's claim names
    clear: bool  # whether the claim is a clear verdict (else any confidence)


TASKS = {
    "counting": Task("example:counting", "example:counting?n=1200&max_count=8", "lstm",
                     clear=True),
    "adding": Task("example:adding", "example:adding?length=8&n=1200", "gru", clear=False),
}


def run(source: str, seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    """One default recommendation, as a row: verdict, how it stopped, and its wall time."""
    import selector

    with tempfile.TemporaryDirectory(prefix="verdicts-") as folder:
        start = time.perf_counter()
        result = selector.recommend(source, seed=seed, tracking=False, register=False,
                                    storage=f"sqlite:///{folder}/studies.db",
                                    output_dir=f"{folder}/out", **settings)
        seconds = time.perf_counter() - start
    rec = result.recommendation
    c = rec.comparison
    return {"verdict": rec.verdict, "confidence": rec.confidence, "reason": rec.reason,
            "gain": c.gain_mean, "ci_low": c.ci_low, "ci_high": c.ci_high, "pairs": c.pairs,
            "stopped": c.stopped, "learned": c.learned, "runs": c.runs,
            "seconds": seconds, "headline": rec.headline}


def expected(task: Task, row: dict[str, Any]) -> bool:
    return row["verdict"] == task.expected and (not task.clear or row["confidence"] == "clear")


def _done(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _cells(row: dict[str, Any]) -> str:
    return ", ".join(f"{cell.upper()} {row['learned'].get(cell, 0)}/{n}"
                     for cell, n in sorted(row["runs"].items()))


def _gain(row: dict[str, Any]) -> str:
    if row["gain"] is None:
        return "-"
    interval = "" if row["ci_low"] is None else f" ({row['ci_low']:+.3f}, {row['ci_high']:+.3f})"
    return f"{row['gain']:+.3f}{interval}"


def report(rows: list[dict[str, Any]], tasks: dict[str, Task]) -> str:
    lines = [table(["task", "seed", "verdict", "reason", "gain of LSTM (interval)", "pairs",
                    "stopped", "learned runs", "wall s"],
                   [[r["task"], r["seed"], f"{(r['verdict'] or 'none').upper()} "
                     f"({r['confidence']})", r["reason"], _gain(r), r["pairs"],
                     r["stopped"] or "-", _cells(r), r["seconds"]] for r in rows])]
    for name, task in tasks.items():
        mine = [r for r in rows if r["task"] == name]
        if mine:
            want = f"{task.expected.upper()}{' (clear)' if task.clear else ''}"
            lines.append(f"{name}: {want} in {sum(expected(task, r) for r in mine)} of "
                         f"{len(mine)} seeds")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS),
                        help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated run seeds")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per run (default: none, the default run)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON-lines file: rows are appended, and rows already there skipped")
    parser.add_argument("--quick", action="store_true",
                        help="tiny data, 2 trials, 2 seed pairs, 60 s: checks the bench runs")
    args = parser.parse_args()
    names = [n.strip() for n in args.tasks.split(",")]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        parser.error(f"--tasks: no task {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    tasks = {n: TASKS[n] for n in names}
    settings: dict[str, Any] = {"budget": args.budget} if args.budget else {}
    if args.quick:
        seeds, settings = seeds[:1], {"n_trials": 2, "seeds": 2, "max_seeds": 2, "budget": 60}
    print(machine(), flush=True)
    rows = [r for r in _done(args.out) if r["task"] in tasks and r["seed"] in seeds]
    for name, task in tasks.items():
        for seed in seeds:
            if any(r["task"] == name and r["seed"] == seed for r in rows):
                continue
            row = {"task": name, "seed": seed, "budget": args.budget,
                   **run(task.quick if args.quick else task.source, seed, settings)}
            rows.append(row)
            print(f"{name} seed {seed}: {row['headline']} ({row['seconds']:.0f} s)", flush=True)
            if args.out is not None:
                with args.out.open("a") as out:
                    out.write(json.dumps(row) + "\n")
    print(report(rows, tasks))


if __name__ == "__main__":
    main()
