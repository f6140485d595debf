"""Cell speed: GRU versus LSTM at equal width, training and inference, eager and ONNX Runtime.

For each shape (sequence length, hidden size, layers, batch; 8 input features) it measures
  - a training step (forward, backward, AdamW update) of `nn.LSTM`, `nn.GRU` and selector's
    fast CPU GRU (`selector.training.fast_gru`, the same `nn.GRU` parameters), and
  - the inference latency of `nn.LSTM` and `nn.GRU` in PyTorch (eager) and exported to ONNX
    under ONNX Runtime: what a deployed model costs (exported models are plain `nn.GRU`).
Each model has a linear head on the last step. Variants are timed in interleaved rounds and
each keeps its best round, so machine noise does not favour one side. Ratios < 1: GRU faster.

    python -m bench.cells            # the full grid (a few minutes)
    python -m bench.cells --quick    # four shapes
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench._common import machine, table
from selector.process import flush_denormals, reuse_freed_memory
from selector.serving.export import onnx_session
from selector.training import fast_gru

FEATURES = 8


class Net(nn.Module):
    """A recurrent stack with a linear head on the last step, as selector's models have."""

    def __init__(self, cell: str, hidden: int, layers: int, fast: bool = False) -> None:
        super().__init__()
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(FEATURES, hidden, num_layers=layers,
                                                          batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.fast = fast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = fast_gru.gru(self.rnn, x) if self.fast else self.rnn(x)[0]
        return self.head(out[:, -1])


def best_ms(runs: dict[str, Callable[[], object]], *, rounds: int = 3,
            budget_s: float = 0.15) -> dict[str, float]:
    """Each run's best per-call time (ms) over interleaved rounds of about ``budget_s`` each."""
    repeats = {}
    for name, run in runs.items():
        run()  # warm-up, and a first estimate of the repeats a round needs
        start = time.perf_counter()
        run()
        repeats[name] = max(1, min(200, int(budget_s / max(time.perf_counter() - start, 1e-6))))
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(repeats[name]):
                run()
            best[name] = min(best[name], (time.perf_counter() - start) / repeats[name] * 1e3)
    return best


def training_step(net: Net, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    target = torch.zeros(x.shape[0], 1)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.mse_loss(net(x), target).backward()
        optimizer.step()
    return step


def onnx_runner(net: Net, x: torch.Tensor, folder: Path) -> Callable[[], object]:
    path = folder / f"{id(net)}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and RNN notes
        torch.onnx.export(net.eval(), (x,), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch", 1: "steps"}})
    session = onnx_session(str(path), threads=torch.get_num_threads())  # keeps the FTZ mode
    feed = {"x": x.numpy()}
    return lambda: session.run(None, feed)


def measure(length: int, hidden: int, layers: int, batch: int, folder: Path) -> list[object]:
    torch.manual_seed(0)
    x = torch.randn(batch, length, FEATURES)
    lstm, gru = Net("lstm", hidden, layers), Net("gru", hidden, layers)
    fast = Net("gru", hidden, layers, fast=True)
    fast.load_state_dict(gru.state_dict())
    train = best_ms({"lstm": training_step(lstm, x), "gru": training_step(gru, x),
                     "fast": training_step(fast, x)})
    with torch.inference_mode():
        eager = best_ms({"lstm": lambda: lstm.eval()(x), "gru": lambda: gru.eval()(x)})
    onnx = best_ms({"lstm": onnx_runner(lstm, x, folder), "gru": onnx_runner(gru, x, folder)})
    return [length, hidden, layers, batch, train["lstm"], train["gru"], train["fast"],
            train["fast"] / train["lstm"], train["fast"] / train["gru"],
            eager["gru"] / eager["lstm"], onnx["gru"] / onnx["lstm"],
            onnx["gru"], eager["gru"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four shapes instead of the grid")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reuse_freed_memory()  # as selector's training does, for every variant
    flush_denormals()  # as the selector command does, before torch's threads start
    if fast_gru.kernel() is None:
        raise SystemExit("the fast GRU kernel did not build: see the warning above")
    shapes = ([(50, 64, 1, 64), (200, 64, 1, 64), (100, 128, 2, 64), (100, 64, 1, 1)]
              if args.quick else
              list(itertools.product((25, 100, 400), (32, 128, 256), (1, 2), (1, 64))))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            rows.append(measure(*shape, folder=Path(tmp)))
            print(".", end="", flush=True)
    print(f"\nCell speed, {FEATURES} input features\n{machine()}\n")
    print(table(["length", "hidden", "layers", "batch", "train LSTM ms", "train nn.GRU ms",
                 "train fast GRU ms", "fast GRU / LSTM", "fast GRU / nn.GRU",
                 "infer GRU / LSTM (eager)", "infer GRU / LSTM (ONNX)", "infer GRU ONNX ms",
                 "infer GRU eager ms"], rows))
    ratios = np.array([[r[7], r[8], r[9], r[10]] for r in rows], dtype=float)
    print("\nGeometric means: fast GRU / LSTM {:.2f}, fast GRU / nn.GRU {:.2f}, inference GRU / "
          "LSTM eager {:.2f}, ONNX {:.2f}".format(*np.exp(np.log(ratios).mean(axis=0))))


if __name__ == "__main__":
    main()
