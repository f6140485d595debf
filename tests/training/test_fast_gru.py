"""The fast CPU GRU: equivalent to nn.GRU, taken in training and (opt-in) scoring, a clean fallback.

The whole suite trains its GRUs through the kernel where it builds (as CI's machine does);
`test_without_a_compiler_training_falls_back_to_nn_gru_with_one_warning` runs the other path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from selector.records import ModelConfig
from selector.training import fast_gru
from selector.training.model import RecurrentNet
from tests.helpers.rnn import assert_same_outputs_and_gradients

needs_kernel = pytest.mark.skipif(fast_gru.kernel() is None, reason="the kernel did not build")
real_gru = fast_gru.gru


@needs_kernel
@pytest.mark.parametrize(("batch", "steps", "features", "hidden", "layers", "bidirectional",
                          "ragged"), [
    (5, 7, 3, 4, 1, False, False),
    (33, 40, 8, 64, 2, False, False),   # 33 rows: split unevenly over threads
    (6, 9, 5, 7, 1, True, True),        # odd width: the vector loops' tails
    (17, 12, 4, 16, 3, True, True),
    (1, 300, 2, 32, 1, False, False),   # one long sequence
])
def test_outputs_and_gradients_match_nn_gru(batch: int, steps: int, features: int, hidden: int,
                                            layers: int, bidirectional: bool,
                                            ragged: bool) -> None:
    torch.manual_seed(batch)
    rnn = nn.GRU(features, hidden, num_layers=layers, bidirectional=bidirectional,
                 batch_first=True)
    x = torch.randn(batch, steps, features, requires_grad=True)
    lengths = torch.randint(1, steps + 1, (batch,)) if ragged else None
    assert_same_outputs_and_gradients(rnn, x, lengths, lambda: fast_gru.gru(rnn, x, lengths))


@needs_kernel
@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_trains_through_the_kernel_and_evaluates_through_nn_gru(
        bidirectional: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell="gru", hidden_size=16, num_layers=2,
                                   bidirectional=bidirectional, dropout=0.0),
                       input_size=3, output_size=2)
    assert type(net.rnn) is nn.GRU  # the same module, state_dict and export as ever
    x, lengths = torch.randn(8, 10, 3), torch.tensor([10, 4, 7, 10, 1, 9, 3, 10])
    calls = []
    monkeypatch.setattr(fast_gru, "gru", lambda *a: calls.append(1) or real_gru(*a))
    monkeypatch.setattr(fast_gru, "FAST_PATH", fast_gru.FastPath())
    monkeypatch.setattr(fast_gru.FastPath, "_time", staticmethod(lambda *a: True))  # tiny shape

    fast = net(x, lengths)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in net.parameters()]
    assert calls == [1]

    net.zero_grad()
    monkeypatch.setenv(fast_gru.ENV_SWITCH, "0")
    plain = net(x, lengths)
    plain.sum().backward()
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, (p.grad for p in net.parameters()), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

    monkeypatch.delenv(fast_gru.ENV_SWITCH)
    net.eval()
    with torch.no_grad():
        net(x, lengths)
    assert calls == [1]  # evaluation ran nn.GRU



@needs_kernel
def test_each_shape_is_timed_once_and_leaves_gradients_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = fast_gru.FastPath()
    rnn = nn.GRU(4, 8, batch_first=True)
    for p in rnn.parameters():
        p.grad = torch.ones_like(p)
    timed = []
    monkeypatch.setattr(fast_gru.FastPath, "_time",
                        staticmethod(lambda *a, real=fast_gru.FastPath._time: timed.append(1)
                                     or real(*a)))
    for steps in (20, 25, 32, 20):  # one length bucket (32)
        path.use(rnn, torch.randn(6, steps, 4))
    path.use(rnn, torch.randn(6, 40, 4))  # the next bucket
    assert timed == [1, 1]
    assert all(bool((p.grad == 1).all()) for p in rnn.parameters())
    with torch.no_grad():
        assert not path.use(rnn, torch.randn(6, 20, 4))  # no gradient: nothing to speed up
    assert not path.use(rnn.eval(), torch.randn(6, 20, 4))


def test_without_a_compiler_training_falls_back_to_nn_gru_with_one_warning(
        tmp_path: Path) -> None:
    script = """
import logging, torch
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
from selector.training import fast_gru
from selector.training.model import RecurrentNet
from selector.records import ModelConfig
net = RecurrentNet(ModelConfig(cell="gru", hidden_size=8), input_size=3, output_size=2)
for _ in range(2):
    net(torch.randn(4, 6, 3), torch.full((4,), 6)).sum().backward()
print("kernel:", fast_gru.kernel())
"""
    env = {**os.environ, "CXX": str(tmp_path / "no-compiler"), "XDG_CACHE_HOME": str(tmp_path)}
    env.pop(fast_gru.ENV_SWITCH, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "kernel: None" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "could not be built" in warnings[0], done.stderr
    assert "torch.nn.GRU" in warnings[0]


def test_switched_off_it_neither_builds_nor_warns(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(fast_gru.ENV_SWITCH, "0")
    fast_gru.kernel.cache_clear()
    try:
        assert fast_gru.kernel() is None
        assert not fast_gru.applicable(nn.GRU(3, 4), torch.randn(2, 5, 3))
    finally:
        monkeypatch.delenv(fast_gru.ENV_SWITCH)
        fast_gru.kernel.cache_clear()
    assert not caplog.records


@needs_kernel
def test_validation_and_scoring_may_run_the_kernel_but_export_never_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(ModelConfig(cell="gru", hidden_size=16), input_size=3, output_size=2).eval()
    x, lengths = torch.randn(8, 10, 3), torch.full((8,), 10)
    calls = []
    monkeypatch.setattr(fast_gru, "gru", lambda *a: calls.append(1) or real_gru(*a))
    monkeypatch.setattr(fast_gru, "FAST_PATH", fast_gru.FastPath())
    monkeypatch.setattr(fast_gru.FastPath, "_time", staticmethod(lambda *a: True))
    with torch.no_grad():
        plain = net(x, lengths)
        with fast_gru.inference():
            fast = net(x, lengths)
            traced = torch.jit.trace(net, (x, lengths), check_trace=False)  # an export
    assert calls == [1]  # validation/scoring: the kernel; tracing: plain nn.GRU
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    assert "PythonOp" not in str(traced.graph)  # no custom autograd function inside
    with torch.inference_mode(), fast_gru.inference():
        net(x, lengths)  # latency is measured under inference_mode: plain nn.GRU
    assert calls == [1]


@needs_kernel
def test_another_checkout_loads_the_built_kernel_without_rebuilding(tmp_path: Path) -> None:
    """The cache key holds the source's text, not its path: a second checkout (or virtual
    environment) with the same source, flags, torch and CPU imports the built module."""
    other = tmp_path / "checkout"
    shutil.copytree(Path(fast_gru.__file__).parents[1], other / "selector")
    script = f"""
import time, torch
from torch.utils import cpp_extension
def refuse(*a, **k):
    raise AssertionError("rebuilt")
cpp_extension.load = refuse
from selector.training import fast_gru
assert fast_gru.__file__.startswith({str(other)!r}), fast_gru.__file__
start = time.perf_counter()
assert fast_gru.kernel() is not None
print("loaded in", time.perf_counter() - start, "setup", fast_gru.SETUP.seconds)
"""
    env = {**os.environ, "PYTHONPATH": str(other)}
    env.pop(fast_gru.ENV_SWITCH, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "loaded in" in done.stdout
