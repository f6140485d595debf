"""Two selector runs on one machine: each one's training time side by side against alone.

OpenMP threads that spin while they wait for work take the cores another process needs, so
two co-located runs can each take many times their solo time. selector's entry point makes
OpenMP wait passively (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose a policy, and sizes
torch's threads from the CPUs the process may use. This benchmark trains the same model in a
child process alone, then two at once, with OpenMP's default policy (before) and passive
waiting (now), for both cells. Ideal for a pair on fully used cores: about 2x solo.

    python -m bench.colocate            # ~3 minutes
    python -m bench.colocate --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench._common import machine, table

CAP_SECONDS = 300.0  # a run still going then is stopped and reported as "> cap"


def child(cell: str, epochs: int) -> None:
    """Train one model on example:digits and print its training seconds (one-time work out)."""
    import lightning.pytorch as pl
    import torch

    from selector.data import load_dataset
    from selector.records import ModelConfig, TrainingSettings
    from selector.study import threads_per_worker
    from selector.training import build_net, fit

    torch.set_num_threads(threads_per_worker(1))
    data = load_dataset("example:digits")
    pl.seed_everything(0, workers=False, verbose=False)
    net = build_net(ModelConfig(cell=cell, hidden_size=64, batch_size=32), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=epochs, patience=epochs), seed=0,
                 accelerator="cpu")
    print(sum(e["train_seconds"] + e["val_seconds"] for e in fitted.history.epochs), flush=True)


def launch(cell: str, epochs: int, policy: str | None, copies: int) -> list[float]:
    """Start ``copies`` children at once; each one's training seconds (inf when capped)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    procs = [subprocess.Popen([sys.executable, "-m", "bench.colocate", "--child", cell,
                               "--epochs", str(epochs)], env=env, stdout=subprocess.PIPE,
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
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs)
        return
    epochs = 1 if args.quick else args.epochs
    rows = []
    for cell in ("gru", "lstm"):
        for name, policy in (("OpenMP default (before)", None), ("passive (now)", "PASSIVE")):
            solo = statistics.median(launch(cell, epochs, policy, 1) + launch(
                cell, epochs, policy, 1))
            pair = launch(cell, epochs, policy, 2)
            ratio = max(pair) / solo
            shown = f"{ratio:.2f}" if ratio != float("inf") else f"> {CAP_SECONDS / solo:.0f}"
            rows.append([cell.upper(), name, f"{solo:.2f}",
                         " / ".join("capped" if p == float("inf") else f"{p:.2f}" for p in pair),
                         shown])
    print(f"\nMeasured on {machine()}; example:digits, hidden 64, batch 32, {epochs} epoch(s); "
          "each run sizes torch threads to the CPUs it may use.\n")
    print(table(["cell", "OpenMP waiting", "alone (s)", "side by side (s)",
                 "side by side / alone"], rows))


if __name__ == "__main__":
    main()
