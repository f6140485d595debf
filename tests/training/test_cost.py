"""Cost measurement: percentiles from enough timings, interleaved ratios, exact memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selector.records import ModelConfig
from selector.training import fast_gru
from selector.training.cost import Latency, Probe, latency, median_ratio, training_memory_bytes
from selector.training.model import RecurrentNet


def test_p95_needs_a_hundred_timings_and_is_a_percentile_not_the_maximum() -> None:
    assert Latency.of([1.0] * 20).p95_ms is None  # the "p95" of 20 timings would be the max
    times = [*np.linspace(1.0, 2.0, 99).tolist(), 50.0]
    measured = Latency.of(times)
    assert measured.p95_ms == pytest.approx(float(np.percentile(times, 95)))
    assert measured.p95_ms < 3.0 and measured.p50_ms == pytest.approx(1.505, abs=1e-3)
    net = RecurrentNet(ModelConfig(cell="lstm", hidden_size=8), input_size=2, output_size=2)
    assert latency(net, Probe(length=5, n_features=2), 1).p95_ms is not None


def test_a_ratio_is_credible_only_beyond_its_spread() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(1.0, 3.0, 100)  # the machine's own drift, shared by both sides
    same = median_ratio((base * rng.normal(1, 0.05, 100)).tolist(), base.tolist())
    assert same.low < 1.0 < same.high and not same.credible
    slower = median_ratio((base * rng.normal(1.3, 0.05, 100)).tolist(), base.tolist())
    assert slower.credible and slower.low > 1.2


def test_training_memory_leaves_out_the_kernel_shape_timing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell="gru", hidden_size=16), input_size=3, output_size=2)
    probe = Probe(length=12, n_features=3)
    monkeypatch.setattr(fast_gru, "FAST_PATH", fast_gru.FastPath())  # this shape: not yet timed
    first = training_memory_bytes(net, probe, 8)
    again = training_memory_bytes(net, probe, 8)  # timed by now
    assert first == again
