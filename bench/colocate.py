"""Two selector runs on one machine: each one's training time side by side against alone.

OpenMP threads that spin while they wait for work take the cores another process needs, so
two co-located runs can each take many times their solo time; threads that sleep at once
(``OMP_WAIT_POLICY=PASSIVE``) make every parallel region pay a wake-up, which slows a run
alone. selector's entry point lets them spin briefly, then sleep (``GOMP_SPINCOUNT=1000``),
unless the user set either variable, and sizes torch's threads from the CPUs the process may
use. This benchmark trains the same model in a child process alone, then two at once, under
the three policies, for both cells. Ideal for a pair on fully used cores: about 2x solo.

    python -m bench.colocate            # ~5 minutes
    python -m bench.colocate --quick    # GRU, one epoch, short spinning only
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench._common import machine, table

CAP_SECONDS = 120.0  # a run still going then is stopped and reported as "> cap"


def child(cell: str, epochs: int, source: str, hidden: int) -> None:
    """Train one model on ``source`` and print its training seconds (one-time work out)."""
    import lightning.pytorch as pl
    import torch

    from selector.data import load_dataset
    from selector.process import threads_per_worker
    from selector.records import ModelConfig, TrainingSettings
    from selector.training.fitting import build_net, fit

    torch.set_num_threads(threads_per_worker(1))
    data = load_dataset(source)
    pl.seed_everything(0, workers=False, verbose=False)
    net = build_net(ModelConfig(cell=cell, hidden_size=hidden, batch_size=32), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=epochs, patience=epochs), seed=0,
                 accelerator="cpu")
    print(sum(e["train_seconds"] + e["val_seconds"] for e in fitted.history.epochs), flush=True)


POLICIES = {  # name -> OpenMP environment
    "OpenMP default (before)": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "short spin (now)": {"GOMP_SPINCOUNT": "1000"},
}


def launch(cell: str, epochs: int, policy: dict[str, str], copies: int, source: str,
           hidden: int) -> list[float]:
    """Start ``copies`` children at once; each one's training seconds (inf when capped)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(policy)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.colocate", "--child", cell,
                               "--epochs", str(epochs), "--data", source, "--hidden",
                               str(hidden)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(copies)]
    deadline = time.monotonic() + CAP_SECONDS
    seconds = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            seconds.append(float(out.strip().splitlines()[-1]))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            seconds.append(float("inf"))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["gru", "lstm"], help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data", default="example:digits")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs, args.data, args.hidden)
        return
    epochs = 1 if args.quick else args.epochs
    rows = []
    repeats = 1 if args.quick else 3  # solo runs; pairs: one fewer
    policies = list(POLICIES.items())[-1:] if args.quick else POLICIES.items()
    for cell in ("gru",) if args.quick else ("gru", "lstm"):
        for name, policy in policies:
            def run(copies: int, cell: str = cell, policy: dict[str, str] = policy) -> list[float]:
                return launch(cell, epochs, policy, copies, args.data, args.hidden)

            solo = statistics.median([t for _ in range(repeats) for t in run(1)])
            pairs = [run(2) for _ in range(max(1, repeats - 1))]
            pair = [statistics.median(times) for times in zip(*pairs, strict=True)]
            ratio = max(pair) / solo
            shown = f"{ratio:.2f}" if ratio != float("inf") else f"> {CAP_SECONDS / solo:.0f}"
            rows.append([cell.upper(), name, f"{solo:.2f}",
                         " / ".join("capped" if p == float("inf") else f"{p:.2f}" for p in pair),
                         shown])
    print(f"\nMeasured on {machine()}; {args.data}, hidden {args.hidden}, batch 32, "
          f"{epochs} epoch(s); "
          "each run sizes torch threads to the CPUs it may use.\n")
    print(table(["cell", "OpenMP waiting", "alone (s)", "side by side (s)",
                 "side by side / alone"], rows))


if __name__ == "__main__":
    main()
