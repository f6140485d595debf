"""Serving speed: the handed-over model answering requests as its MLflow pyfunc, GRU v LSTM.

For each shape of bench/README.md section 2 (sequence length, hidden size, layers; 8 input
features) both cells are exported as `selector recommend` hands a model over (weights
untrained: timing does not depend on them), saved as the MLflow pyfunc with the modules and
requirements it ships, loaded with `mlflow.pyfunc.load_model`, and sent ``{"X": ...}``
requests of 1 and of 64 sequences in interleaved rounds from one client, in this process:
p50 and p99 latency, requests per second, and GRU / LSTM. Beside them, GRU / LSTM for the
ONNX Runtime session alone (what the pyfunc adds is the request's checks and scaling) and for
eager PyTorch, the runtime latency used to be weighed in.

    python -m bench.serving          # the grid (a few minutes)
    python -m bench.serving --quick  # two shapes
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench._common import machine, table
from selector.data import DataOptions, load_dataset
from selector.data.dataset import SequenceData
from selector.process import flush_denormals
from selector.records import ModelConfig
from selector.serving.export import export_model
from selector.serving.pyfunc import SelectorModel, pyfunc_parts, serving_code
from selector.serving.runtime import ONNX_FILE, onnx_session
from selector.training.cost import Probe, forward_pass, interleaved_ms
from selector.training.fitting import build_net
from selector.training.system import SequenceSystem

FEATURES = 8
CELLS = ("gru", "lstm")
TARGET = 0.8  # served GRU latency / LSTM's at batch 1 (issue: GRU's promise at inference)


def dataset(length: int, folder: Path) -> tuple[SequenceData, str]:
    """A small classification set of ``length``-step sequences, as arrays on disk."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"x{length}.npz"
    np.savez(path, X=rng.normal(size=(40, length, FEATURES)).astype("float32"),
             y=np.arange(40) % 2)
    return load_dataset(str(path), DataOptions()), str(path)


def served(cell: str, hidden: int, layers: int, data: SequenceData, source: str,
           folder: Path) -> tuple[Any, Path, torch.nn.Module]:
    """The cell's model as it is handed over and served: the loaded pyfunc, its model
    folder, and the PyTorch network (for the eager figure)."""
    import mlflow.pyfunc

    torch.manual_seed(0)
    net = build_net(ModelConfig(cell=cell, hidden_size=hidden, num_layers=layers,
                                batch_size=64), data)
    system = SequenceSystem(net, data.task, learning_rate=1e-3, weight_decay=0.0)
    exported = export_model(system, data, DataOptions(), folder / f"{cell}-folder",
                            meta={"cell": cell})
    model, signature, example, requirements = pyfunc_parts(exported.folder, data, source)
    assert isinstance(model, SelectorModel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(
            str(folder / f"{cell}-pyfunc"), python_model=model,
            artifacts={"model": str(exported.folder)}, signature=signature,
            input_example=example, pip_requirements=list(requirements),
            code_paths=[str(serving_code(folder / f"{cell}-code"))])
        loaded = mlflow.pyfunc.load_model(str(folder / f"{cell}-pyfunc"))
    return loaded, exported.folder, net.eval()


def percentiles(times: list[float]) -> tuple[float, float, float]:
    """p50 and p99 (ms), and requests per second from one client."""
    return (float(np.percentile(times, 50)), float(np.percentile(times, 99)),
            1000.0 / float(np.mean(times)))


def rounds_for(run: Callable[[], object], budget_s: float) -> int:
    start = time.perf_counter()
    run()
    return int(min(2000, max(30, budget_s / max(time.perf_counter() - start, 1e-6))))


def measure(length: int, hidden: int, layers: int, folder: Path, budget_s: float
            ) -> list[list[object]]:
    data, source = dataset(length, folder)
    models = {c: served(c, hidden, layers, data, source, folder / c) for c in CELLS}
    rows = []
    for batch in (1, 64):
        X = np.random.default_rng(1).normal(size=(batch, length, FEATURES)).astype("float32")
        pyfunc = {c: (lambda m=m, X=X: m.predict({"X": X})) for c, (m, _, _) in models.items()}
        sessions = {c: onnx_session(str(f / ONNX_FILE)) for c, (_, f, _) in models.items()}
        onnx = {c: (lambda s=s, X=X: s.run(None, {"x": X})) for c, s in sessions.items()}
        probe = Probe(length=length, n_features=FEATURES)
        eager = {c: forward_pass(n, probe, batch) for c, (_, _, n) in models.items()}
        rounds = rounds_for(pyfunc["lstm"], budget_s)
        times = interleaved_ms(pyfunc, rounds)
        session_ms = interleaved_ms(onnx, rounds)
        eager_ms = interleaved_ms(eager, max(30, rounds // 4))
        (g50, g99, grps), (l50, l99, lrps) = (percentiles(times[c]) for c in CELLS)
        ratio = g50 / l50
        rows.append([length, hidden, layers, batch, g50, g99, l50, l99, grps, lrps, ratio,
                     np.median(session_ms["gru"]) / np.median(session_ms["lstm"]),
                     np.median(eager_ms["gru"]) / np.median(eager_ms["lstm"]),
                     "yes" if ratio <= TARGET else "no"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes instead of the grid")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds of requests per cell, shape and batch (default 1)")
    args = parser.parse_args()
    flush_denormals()  # as the selector command does; the pyfunc's sessions keep the mode
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per load
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    shapes = ([(25, 32, 1), (100, 128, 1)] if args.quick else
              list(itertools.product((25, 100, 400), (32, 128, 256), (1, 2))))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, shape in enumerate(shapes):
            rows += measure(*shape, folder=Path(tmp) / str(i), budget_s=args.budget)
            print(".", end="", flush=True)
    print(f"\nServing speed: the pyfunc in process, {{'X': ...}} requests, {FEATURES} "
          f"features\n{machine()}\n")
    print(table(["length", "hidden", "layers", "batch", "GRU p50 ms", "GRU p99 ms",
                 "LSTM p50 ms", "LSTM p99 ms", "GRU req/s", "LSTM req/s",
                 "served GRU / LSTM", "ONNX session GRU / LSTM", "eager GRU / LSTM",
                 f"GRU <= {TARGET}x"], rows))
    for batch in (1, 64):
        chosen = np.array([[r[10], r[11], r[12]] for r in rows if r[3] == batch], dtype=float)
        met = sum(r[13] == "yes" for r in rows if r[3] == batch)
        print("\nBatch {}: geometric means served GRU / LSTM {:.2f}, ONNX session {:.2f}, "
              "eager {:.2f}; served GRU <= {}x the LSTM on {} of {} shapes".format(
                  batch, *np.exp(np.log(chosen).mean(axis=0)), TARGET, met, len(chosen)))


if __name__ == "__main__":
    main()
