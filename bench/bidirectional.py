"""Bidirectional RNNs on long ragged sequences: padded per direction against packed.

A training step (forward, backward, AdamW) of a bidirectional `RecurrentNet` on a batch of
ragged sequences, the way selector trains it on CPU now (`selector.training.padded`: each direction on
its own, the backward one reversed within each sequence's length) and the way it did before
(packed sequences), against the unidirectional net of the same width on the same batch. Timed
in interleaved rounds, medians. Goal: bidirectional / unidirectional at most 2.

    python -m bench.bidirectional            # lengths 200 and 1,700 (a few minutes)
    python -m bench.bidirectional --quick
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from bench._common import machine, table
from selector.process import flush_denormals, reuse_freed_memory
from selector.records import ModelConfig
from selector.training.cost import interleaved_ms
from selector.training.model import RecurrentNet


def step(net: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> Callable[[], object]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def run() -> object:
        optimizer.zero_grad(set_to_none=True)
        net(x, lengths).pow(2).mean().backward()
        optimizer.step()
        return None

    return run


class Packed(torch.nn.Module):
    """The bidirectional net as selector ran it before: ragged batches packed."""

    def __init__(self, net: RecurrentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out = pad_packed_sequence(self.net.rnn(packed)[0], batch_first=True)[0]
        hidden, rows = self.net.config.hidden_size, torch.arange(len(lengths))
        last = torch.cat([out[rows, lengths - 1, :hidden], out[:, 0, hidden:]], dim=1)
        return self.net.head(last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reuse_freed_memory()
    flush_denormals()  # as the selector command does, before torch's threads start
    shapes = [(100, 16, 8)] if args.quick else [(200, 32, 32), (1700, 16, 19)]
    rounds = 3 if args.quick else 5
    rows = []
    for length, batch, hidden in shapes:
        rng = np.random.default_rng(0)
        lengths = torch.from_numpy(rng.integers(length // 2, length + 1, batch)).long()
        lengths[0] = length
        x = torch.randn(batch, length, 4)
        for cell in ("lstm", "gru"):
            torch.manual_seed(0)
            nets: dict[str, torch.nn.Module] = {
                name: RecurrentNet(ModelConfig(cell=cell, hidden_size=hidden, bidirectional=bi),
                                   input_size=4, output_size=1)
                for name, bi in (("uni", False), ("padded", True))}
            nets["packed"] = Packed(RecurrentNet(ModelConfig(
                cell=cell, hidden_size=hidden, bidirectional=True), input_size=4, output_size=1))
            times = interleaved_ms({k: step(n, x, lengths) for k, n in nets.items()}, rounds,
                                   warmup=1)
            median = {k: float(np.median(t)) for k, t in times.items()}
            rows.append([cell.upper(), length, batch, hidden, f"{median['uni']:.1f}",
                         f"{median['padded']:.1f}", f"{median['packed']:.1f}",
                         f"{median['padded'] / median['uni']:.2f}",
                         f"{median['packed'] / median['uni']:.2f}"])
    print(f"\nMeasured on {machine()}; lengths drawn between half and all of the longest; "
          f"{rounds} interleaved rounds, medians.\n")
    print(table(["cell", "longest", "batch", "hidden", "uni ms", "bi padded ms", "bi packed ms",
                 "bi padded / uni", "bi packed / uni"], rows))


if __name__ == "__main__":
    main()
