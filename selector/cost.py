"""Measuring what a candidate costs, the same way for both cells.

Parameter counts and inference latency do not depend on the weights, so they are measured on
the untrained network (before any training is spent on a candidate that breaks a budget).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from selector.model import RecurrentNet, count_parameters

THROUGHPUT_BATCH = 64


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
    p95_ms: float


def size_bytes(module: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers())


def recurrent_parameters(net: RecurrentNet) -> int:
    return count_parameters(net.rnn)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def latency(net: nn.Module, probe: Probe, batch_size: int, *, repeats: int = 20,
            warmup: int = 3) -> Latency:
    """Median and 95th-percentile wall time of one forward pass, after warm-up."""
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    x, lengths = probe.batch(batch_size, device)
    for _ in range(warmup):
        net(x, lengths)
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net(x, lengths)
        _sync(device)
        times.append((time.perf_counter() - start) * 1000.0)
    net.train(was_training)
    times.sort()
    return Latency(statistics.median(times), times[min(len(times) - 1, round(0.95 * len(times)))])


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

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x, lengths)
    out.sum().backward()
    net.zero_grad(set_to_none=True)
    return 4 * size_bytes(net) + sum(saved.values())


def train_step_ms(net: nn.Module, probe: Probe, batch_size: int, *, repeats: int = 8,
                  warmup: int = 2) -> float:
    """Median wall time of one training step (forward, backward, AdamW update) at ``batch_size``.

    The weights are restored afterwards, so the measurement leaves ``net`` as it found it.
    """
    device = next(net.parameters()).device
    state = {k: v.clone() for k, v in net.state_dict().items()}
    was_training = net.training
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x, lengths = probe.batch(batch_size, device)
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        net(x, lengths).float().pow(2).mean().backward()
        optimizer.step()
        _sync(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    net.load_state_dict(state)
    net.zero_grad(set_to_none=True)
    net.train(was_training)
    return statistics.median(times)
