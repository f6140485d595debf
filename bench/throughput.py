"""Training throughput: a real trial's seconds per training batch against the bare step.

For each cell and sequence length (the adding problem: 2 features, fixed length) it measures
  - a real trial's training: selector's `fit` (Lightning, the length-bucketed loader, gradient
    clipping, early-stopping callbacks) over ``--epochs`` epochs, its epochs' training seconds
    (validation excluded) per batch; and
  - the bare step: forward, backward, clipping and AdamW update of the same network, at the same
    configuration (hidden size, layers, dropout, weight decay, batch size), on one batch of the
    same shape, timed in a loop.
Ratio real / bare: what the framework adds per batch (goal <= 1.2). "ms per 100 steps" shows
how time grows with length (linear: equal across lengths). Cells and lengths are interleaved
in rounds; each keeps its best round.

    python -m bench.throughput            # lengths 50, 100, 200, 400, 1000
    python -m bench.throughput --quick    # lengths 50 and 400, one round
"""

from __future__ import annotations

import argparse
import math
import time

import lightning.pytorch as pl
import torch

from bench._common import machine, table
from selector.data.batching import SplitDataset
from selector.data.load import load_dataset
from selector.process import flush_denormals, reuse_freed_memory
from selector.records import ModelConfig, TrainingSettings
from selector.training.fitting import build_net, fit, make_loader
from selector.training.system import SequenceSystem

BATCHES = 24  # training batches per epoch


def config_for(cell: str, hidden: int, layers: int, batch: int) -> ModelConfig:
    return ModelConfig(cell=cell, hidden_size=hidden, num_layers=layers,
                       dropout=0.1 if layers > 1 else 0.0, learning_rate=1e-3,
                       batch_size=batch, weight_decay=1e-4)


def real_ms(config: ModelConfig, length: int, epochs: int) -> float:
    """A trial's training milliseconds per batch (its epochs after the first)."""
    data = load_dataset(f"example:adding?length={length}&n={int(BATCHES * config.batch_size / 0.7) + 1}")
    settings = TrainingSettings(max_epochs=epochs + 1, patience=epochs + 1, gradient_clip=1.0)
    pl.seed_everything(0, verbose=False)
    fitted = fit(build_net(config, data), data, settings, seed=0, accelerator="cpu")
    batches = math.ceil(len(data.splits.train) / config.batch_size)
    later = [e["train_seconds"] for e in fitted.history.epochs[1:]]
    return min(later) / batches * 1e3


def bare_ms(config: ModelConfig, length: int, repeats: int) -> float:
    """The same network's forward, backward, clipping and AdamW step on one batch, in ms
    (the best of three loops of ``repeats`` steps)."""
    data = load_dataset(f"example:adding?length={length}&n={2 * config.batch_size}")
    net = build_net(config, data).train()
    system = SequenceSystem(net, data.task, learning_rate=config.learning_rate,
                            weight_decay=config.weight_decay)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    x, lengths, y = next(iter(make_loader(SplitDataset(data, data.splits.train),
                                          config.batch_size, shuffle=False, seed=0)))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        system._loss(net(x, lengths), y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()

    step()
    best = math.inf
    for _ in range(3):  # the best of three loops, as the real trial keeps its best epoch
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        best = min(best, (time.perf_counter() - start) / repeats * 1e3)
    return best


def main() -> None:
    flush_denormals()  # as the selector command does, before torch's threads start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="lengths 50 and 400, one round")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per real trial")
    args = parser.parse_args()
    reuse_freed_memory()
    lengths = (50, 400) if args.quick else (50, 100, 200, 400, 1000)
    rounds = 1 if args.quick else 2
    best: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for length in lengths:
            for cell in ("gru", "lstm"):
                config = config_for(cell, args.hidden, args.layers, args.batch)
                measured = [real_ms(config, length, args.epochs), bare_ms(config, length, BATCHES)]
                kept = best.setdefault((cell, length), measured)
                best[(cell, length)] = [min(a, b) for a, b in zip(kept, measured, strict=True)]
                print(".", end="", flush=True)
    rows = [[cell, length, real, bare, real / bare, 100 * real / length]
            for (cell, length), (real, bare) in sorted(best.items())]
    print(f"\nTraining throughput: hidden {args.hidden} x {args.layers}, batch {args.batch}, "
          f"adding problem (2 features)\n{machine()}\n")
    print(table(["cell", "length", "real trial ms/batch", "bare step ms", "real / bare",
                 "real ms per 100 steps"], rows))


if __name__ == "__main__":
    main()
