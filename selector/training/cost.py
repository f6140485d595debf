"""Measuring what a candidate costs, the same way for both cells.

Parameter counts and inference latency do not depend on the weights, so they are measured on
the untrained network (before any training is spent on a candidate that breaks a budget).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from scipy import stats
from torch import nn

from selector.records import Ratio
from selector.training.budget import Deadline
from selector.training.model import RecurrentNet, count_parameters

Key = TypeVar("Key", bound=Hashable)  # what each timed run is called by

THROUGHPUT_BATCH = 64
LATENCY_TIMINGS = 100  # batch-1 timings per latency measurement
MIN_ROUNDS = 10  # interleaved rounds a budget may not cut below
LATENCY_SECONDS = 5.0  # about the most one latency measurement takes
MIN_P95_TIMINGS = 100  # fewer timings than this report no 95th percentile: it would be the max


@dataclass(frozen=True)
class Probe:
    """A representative input shape: sequence length, and features or vocabulary."""

    length: int
    n_features: int
    vocabulary_size: int = 0

    def batch(self, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        if self.vocabulary_size:
            x = torch.randint(2, max(3, self.vocabulary_size), (size, self.length),
                              generator=generator)
        else:
            x = torch.randn(size, self.length, self.n_features, generator=generator)
        return x.to(device), torch.full((size,), self.length, dtype=torch.int64)


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float | None  # None from fewer than MIN_P95_TIMINGS timings

    @classmethod
    def of(cls, times_ms: list[float]) -> Latency:
        p95 = float(np.percentile(times_ms, 95)) if len(times_ms) >= MIN_P95_TIMINGS else None
        return cls(float(np.median(times_ms)), p95)


def size_bytes(module: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers())


def recurrent_parameters(net: RecurrentNet) -> int:
    return count_parameters(net.rnn)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_pass(net: nn.Module, probe: Probe, batch_size: int) -> Callable[[], object]:
    """One inference forward pass of ``net`` (eval mode, no autograd) on a probe batch."""
    device = next(net.parameters()).device
    x, lengths = probe.batch(batch_size, device)

    @torch.inference_mode()
    def run() -> object:
        out = net.eval()(x, lengths)
        _sync(device)
        return out

    return run


def timings_ms(run: Callable[[], object], repeats: int, *, warmup: int = 3) -> list[float]:
    """Wall times of ``repeats`` calls of ``run``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def latency(net: nn.Module, probe: Probe, batch_size: int, *,
            repeats: int = LATENCY_TIMINGS, seconds: float = LATENCY_SECONDS,
            min_repeats: int = MIN_ROUNDS) -> Latency:
    """Median and 95th percentile wall time of one forward pass, after warm-up: ``repeats``
    timings, or as many as fit in about ``seconds`` (at least ``min_repeats``) for a slow
    network (long sequences, big batches), so that measuring never costs more than training."""
    was_training = net.training
    run = forward_pass(net, probe, batch_size)
    first = min(timings_ms(run, 3, warmup=1)) / 1000.0  # the least of three: no outlier
    affordable = max(min_repeats, int(seconds / max(first, 1e-9)))
    times = timings_ms(run, min(repeats, affordable), warmup=1)
    net.train(was_training)
    return Latency.of(times)


def interleaved_ms(runs: dict[Key, Callable[[], object]], rounds: int, *,
                   warmup: int = 3, until: Deadline | None = None,
                   min_rounds: int = MIN_ROUNDS) -> dict[Key, list[float]]:
    """Each of ``runs`` timed once per round, in turn, so that both sides of a comparison see
    the same machine (a busy neighbour, a clock change) as alike as possible. With ``until``
    (a budget's deadline), rounds stop there once ``min_rounds`` are done."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[Key, list[float]] = {name: [] for name in runs}
    for done in range(rounds):
        if until is not None and done >= min_rounds and until.passed():
            break
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def training_memory_bytes(net: nn.Module, probe: Probe, batch_size: int) -> int:
    """Peak memory of one training step at ``batch_size``.

    On CUDA, the allocator's measured peak. On CPU, weights + gradients + AdamW's two moments,
    plus every tensor autograd saves for the backward pass, captured as it is saved.
    """
    device = next(net.parameters()).device
    x, lengths = probe.batch(batch_size, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        net(x, lengths).sum().backward()
        net.zero_grad(set_to_none=True)
        return int(torch.cuda.max_memory_allocated(device))
    weights = {p.data_ptr() for p in net.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in weights:  # weights are counted once, below
            saved.setdefault(t.data_ptr(), t.numel() * t.element_size())
        return t

    net(x, lengths).sum().backward()  # one-time work (a kernel's shape timing) before the count
    net.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x, lengths)
    out.sum().backward()
    net.zero_grad(set_to_none=True)
    return 4 * size_bytes(net) + sum(saved.values())


def training_step(net: nn.Module, probe: Probe, batch_size: int) -> Callable[[], object]:
    """One training step (forward, backward, AdamW update) of ``net`` at ``batch_size``.

    It changes the weights: time it on a throwaway network.
    """
    device = next(net.parameters()).device
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x, lengths = probe.batch(batch_size, device)

    def run() -> object:
        optimizer.zero_grad(set_to_none=True)
        net(x, lengths).float().pow(2).mean().backward()
        optimizer.step()
        _sync(device)
        return None

    return run


def macs_per_step(net: RecurrentNet) -> int:
    """Multiply-adds of the recurrent layers for one step of one sequence: one per weight of
    the input and recurrent matrices (4 gate blocks for an LSTM, 3 for a GRU). Deterministic,
    so it can break a tie that noisy timings cannot."""
    return sum(p.numel() for name, p in net.rnn.named_parameters() if name.startswith("weight"))


def median_ratio(numerator_ms: list[float], denominator_ms: list[float], *,
                 level: float = 0.95) -> Ratio:
    """The median of per-round ratios of interleaved timings, with a distribution-free interval
    (order statistics of the median; normal approximation to the binomial ranks)."""
    ratios = np.sort(np.asarray(numerator_ms) / np.asarray(denominator_ms))
    n = len(ratios)
    z = float(stats.norm.ppf(0.5 + level / 2))
    low = max(0, int(np.floor(n / 2 - z * np.sqrt(n) / 2)) - 1)
    high = min(n - 1, int(np.ceil(n / 2 + z * np.sqrt(n) / 2)))
    return Ratio(float(np.median(ratios)), float(ratios[low]), float(ratios[high]), level)
