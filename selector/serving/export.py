"""Handing over the trained model: TorchScript and ONNX exports with a parity check. Where
neither cell learned a forecast, the forecast that repeats each series' past (`RepeatNet`)
is exported the same way.

The exports take a batch of equal-length sequences (no padding, no lengths input) and return
predictions in the user's units: class probabilities, values, or a (horizon, outputs) forecast.
Batch size and sequence length are both dynamic. ONNX uses the TorchScript-based exporter,
which maps `nn.GRU`/`nn.LSTM` to ONNX's GRU/LSTM operators; the torch.export-based one unrolls
the recurrence and fixes the sequence length (measured on torch 2.13).

A model folder holds ``selector-model.json`` (configuration, data layout, preprocessing,
classes, parity results), ``model.pt`` (TorchScript), ``model.onnx`` and, for text,
``tokenizer.json``: everything `selector predict` needs, nothing pickled.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from selector.data.dataset import SequenceData
from selector.data.options import DataOptions
from selector.files import write_file
from selector.serving.runtime import (
    MODEL_FILE,
    ONNX_FILE,
    TOKENIZER_FILE,
    TORCHSCRIPT_FILE,
    onnx_session,
)
from selector.training.baselines import Naive
from selector.training.cost import Probe
from selector.training.model import last_steps
from selector.training.system import SequenceSystem
from selector.versions import MODEL

PARITY_TOLERANCE = 1e-4  # max |export - PyTorch|, absolute, on probabilities or scaled values


class ExportNet(nn.Module):
    """The trained network for equal-length batches, with its output in the user's units."""

    def __init__(self, system: SequenceSystem, output_shape: tuple[int, ...]) -> None:
        super().__init__()
        net = system.net
        self.embedding = net.embedding
        self.rnn = net.rnn
        self.head = net.head
        self.hidden = net.config.hidden_size
        self.bidirectional = net.config.bidirectional
        self.lookback = net.config.lookback
        self.classify = system.task == "classification"
        self.output_shape = output_shape
        self.register_buffer("mean", system.target_mean.detach().clone())
        self.register_buffer("std", system.target_std.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lookback is not None:
            x = last_steps(x, self.lookback)
        if self.embedding is not None:
            x = self.embedding(x)
        out, _ = self.rnn(x)
        last = out[:, -1, :self.hidden]
        if self.bidirectional:  # no padding, so the backward direction ends at step 0
            last = torch.cat([last, out[:, 0, self.hidden:]], dim=1)
        y = self.head(last)
        if self.classify:
            return torch.softmax(y, dim=-1)
        y = y.reshape(-1, *self.output_shape) if self.output_shape else y.squeeze(-1)
        return y * self.std + self.mean


class RepeatNet(nn.Module):
    """A forecast made from each target series' own past (`selector.training.baselines.Naive`):
    step h of the horizon is the value ``season`` steps before it (season 1: the last value),
    or with drift the last value plus h times the average step over the window the data was
    cut into, in the targets' units. It is what is handed over when neither cell learned."""

    columns: torch.Tensor  # the target series among the input features
    steps: torch.Tensor  # the window's steps it reads (`Naive.reads`)
    ahead: torch.Tensor  # drift: each horizon step's share of the window's whole rise
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, data: SequenceData, naive: Naive) -> None:
        super().__init__()
        assert data.lookback is not None, "a forecast's windows"
        columns = [data.feature_names.index(n) for n in data.target_names]
        prep = data.preprocessing
        horizon = data.targets.shape[1]
        self.drift, self.span = naive.drift, data.lookback
        self.register_buffer("columns", torch.tensor(columns))
        self.register_buffer("steps", torch.from_numpy(naive.reads(data.lookback, horizon)))
        self.register_buffer("ahead", torch.arange(1, horizon + 1, dtype=torch.float32)
                             .reshape(1, -1, 1) / max(1, data.lookback - 1))
        self.register_buffer("mean", torch.tensor(np.asarray(prep.feature_mean)[columns],
                                                  dtype=torch.float32))
        self.register_buffer("std", torch.tensor(np.asarray(prep.feature_std)[columns],
                                                 dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        read = x[:, -self.span:, :].index_select(2, self.columns).index_select(1, self.steps)
        if self.drift:
            first, last = read[:, :1], read[:, 1:]
            read = last + self.ahead * (last - first)
        return read * self.std + self.mean


@dataclass(frozen=True)
class ExportedModel:
    folder: Path
    torchscript: Path
    onnx: Path
    parity: dict[str, float]  # max absolute difference to PyTorch, per runtime
    parity_ok: bool


def output_shape(data: SequenceData) -> tuple[int, ...]:
    return tuple(data.targets.shape[1:]) if data.task == "forecasting" else ()


@contextlib.contextmanager
def quiet_torchscript() -> Iterator[None]:
    with warnings.catch_warnings():  # TorchScript/legacy-exporter deprecation notes, RNN batch hints
        warnings.simplefilter("ignore")
        yield


def onnx_bytes(net: nn.Module, example: torch.Tensor) -> bytes:
    """``net`` as an ONNX model (batch and steps dynamic), in memory."""
    buffer = io.BytesIO()
    with quiet_torchscript(), torch.no_grad():
        # the TorchScript-based exporter (dynamo=False) writes to a file object as well as a path
        torch.onnx.export(net, (example,), buffer, dynamo=False,  # type: ignore[arg-type]
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 1: "steps"}, "y": {0: "batch"}})
    return buffer.getvalue()


def onnx_forward(system: SequenceSystem, data: SequenceData, probe: Probe,
                 batch_size: int) -> Callable[[], object]:
    """One ONNX Runtime inference of the exported form of ``system`` on a probe batch, with as
    many threads as torch uses: the runtime a deployed model runs, for latency."""
    net = ExportNet(system, output_shape(data)).cpu().eval()
    x, _ = probe.batch(batch_size, torch.device("cpu"))
    session = onnx_session(onnx_bytes(net, x), threads=torch.get_num_threads())
    feed = {"x": x.numpy()}
    return lambda: session.run(None, feed)


def export_model(system: SequenceSystem, data: SequenceData, options: DataOptions,
                 folder: Path, meta: dict[str, Any]) -> ExportedModel:
    """Write the model folder; ``meta`` (cell, config, scores, ...) goes into its JSON file.
    A forecast's ``options`` are saved with the lookback the model reads fixed: a request
    gives that many steps. A panel's request gives the whole window the data was cut into,
    which its spread is taken over (`selector.data.panel.Panel.window`); the model reads the
    last steps of it."""
    system = system.cpu().eval()
    if data.lookback is not None:
        options = replace(options, lookback=(data.lookback if data.preprocessing.window_spread
                                             else system.net.config.lookback or data.lookback))
    probe = _probe(data)

    def reference(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The training-time model on (padded batch, lengths)."""
        out = system(x, lengths)
        return torch.softmax(out, dim=-1) if system.task == "classification" else out

    scale = torch.ones(1) if system.task == "classification" else system.target_std.detach()
    return _write(ExportNet(system, output_shape(data)).eval(), data, options, folder, meta,
                  lambda: _parity(reference, folder, probe, scale,  # and a shorter length
                                  (probe.length, max(1, probe.length // 2 + 1))))


def export_repeat(data: SequenceData, naive: Naive, options: DataOptions, folder: Path,
                  meta: dict[str, Any]) -> ExportedModel:
    """Write the model folder of the forecast made from the series' own past (`RepeatNet`),
    which reads the whole window the data was cut into."""
    assert data.lookback is not None, "a forecast's windows"
    net = RepeatNet(data, naive).eval()
    probe = _probe(data)
    return _write(net, data, replace(options, lookback=data.lookback), folder, meta,
                  lambda: _parity(lambda x, _: net(x), folder, probe, net.std,
                                  (probe.length,)))


def _probe(data: SequenceData) -> Probe:
    return Probe(length=max(2, int(np.median(data.lengths))), n_features=data.n_features,
                 vocabulary_size=data.vocabulary_size)


def _write(net: nn.Module, data: SequenceData, options: DataOptions, folder: Path,
           meta: dict[str, Any], parity: Callable[[], dict[str, float]]) -> ExportedModel:
    """``net`` traced to TorchScript and ONNX, checked by ``parity``, and the folder's JSON."""
    example, _ = _probe(data).batch(2, torch.device("cpu"))
    with quiet_torchscript(), torch.no_grad():
        traced = torch.jit.trace(net, (example,))
        torchscript = io.BytesIO()  # torch's file writers abort on a full disk
        torch.jit.save(traced, torchscript)
    write_file(folder / TORCHSCRIPT_FILE, torchscript.getvalue())
    write_file(folder / ONNX_FILE, onnx_bytes(net, example))
    differences = parity()
    prep = data.preprocessing.to_dict()
    tokenizer = prep.pop("tokenizer_json")
    if tokenizer:
        write_file(folder / TOKENIZER_FILE, tokenizer)
    document = {
        "schema": MODEL.marker, **meta, "task": data.task, "format": data.format,
        "data_options": options.to_dict(), "feature_names": list(data.feature_names),
        "target_names": list(data.target_names), "classes": list(data.classes),
        "output_shape": list(output_shape(data)), "preprocessing": prep,
        "input": {"dtype": "int64" if data.is_text else "float32",
                  "shape": ["batch", "steps"] if data.is_text else ["batch", "steps",
                                                                    data.n_features],
                  "note": "one batch = sequences of equal length, already preprocessed"},
        "parity": differences, "files": {"torchscript": TORCHSCRIPT_FILE, "onnx": ONNX_FILE},
    }
    write_file(folder / MODEL_FILE, json.dumps(document, indent=2, default=str))
    return ExportedModel(folder=folder, torchscript=folder / TORCHSCRIPT_FILE,
                         onnx=folder / ONNX_FILE, parity=differences,
                         parity_ok=max(differences.values()) <= PARITY_TOLERANCE)


def _parity(reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], folder: Path,
            probe: Probe, scale: torch.Tensor, lengths: tuple[int, ...]) -> dict[str, float]:
    """Largest difference between each export and ``reference``, in units of ``scale`` (a
    numeric output in standard units, so the tolerance means the same everywhere), over
    several shapes: batch sizes 1 and 3 at each of ``lengths``, without padding."""
    with quiet_torchscript():
        scripted = torch.jit.load(str(folder / TORCHSCRIPT_FILE))
    session = onnx_session(str(folder / ONNX_FILE))
    worst = {"torchscript": 0.0, "onnx": 0.0}
    for length in sorted(set(lengths)):
        for batch in (1, 3):
            x, sizes = Probe(length, probe.n_features, probe.vocabulary_size).batch(
                batch, torch.device("cpu"))
            with torch.no_grad():
                expected = reference(x, sizes)
                ts = scripted(x)
            onnx = session.run(None, {"x": x.numpy()})[0]
            worst["torchscript"] = max(worst["torchscript"],
                                       float(((ts - expected) / scale).abs().max()))
            worst["onnx"] = max(worst["onnx"], float(np.abs(
                (onnx - expected.numpy()) / scale.numpy()).max()))
    return worst
