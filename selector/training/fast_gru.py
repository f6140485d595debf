"""A fast CPU GRU for training, numerically equivalent to `torch.nn.GRU`.

On CPU, PyTorch runs its LSTM through oneDNN's fused kernel but its GRU through a generic
per-step loop, so `nn.GRU` trains 1.3-3.2x slower than an LSTM of the same width, although a
GRU does 3/4 of the LSTM's arithmetic. This module trains the same `nn.GRU` parameters
(same module, same state_dict) through a C++ recurrence built on first use
(`selector/csrc/fast_gru.cpp`): the input projections of all steps as one GEMM, a hand-written
backward through time, the weight gradients as single GEMMs after the loop, and vectorised
gate arithmetic.

The path is taken automatically in training on CPU where it is faster (timed once per shape,
see `FastPath`), and for validation and scoring inside `inference()`. Where the extension
cannot be built (no compiler, an unusual platform) the model falls back to `nn.GRU` with one
warning. Latency measurement, export and registered models always run plain `nn.GRU`.
``SELECTOR_FAST_GRU=0`` turns the path off.

One-time work (building or loading the kernel, timing a shape) is counted by `SETUP`, so that
training timers can leave it out: it is a cost of this process, not of a GRU epoch.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import platform
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeGuard

import torch
from torch import nn

from selector.training import padded

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("csrc") / "fast_gru.cpp"
ENV_SWITCH = "SELECTOR_FAST_GRU"
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]  # OpenMP: ATen's parallel_for


def enabled() -> bool:
    """False when the user turned the fast path off with ``SELECTOR_FAST_GRU=0``."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "false", "no", "off"}


class SetupClock:
    """Seconds this process spent on one-time work: the kernel's build or load, shape timings."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start


SETUP = SetupClock()
"""The process's one-time seconds; a timer subtracts what accrued while it ran."""


def cache_dir() -> Path:
    """Where the built extension is kept, per source, torch version, Python ABI, flags and CPU.

    Nothing in the key depends on where the source or the environment lives, so another
    checkout or virtual environment with the same torch finds the same build.
    """
    key = "|".join([SOURCE.read_text(), torch.__version__, str(sysconfig.get_config_var(
        "EXT_SUFFIX")), " ".join(_FLAGS), platform.machine(), _cpu_model()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "selector" / "fast_gru" / digest


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    return platform.processor()


@functools.cache
def kernel() -> ModuleType | None:
    """The compiled extension, built once per machine (~30 s) and cached; None if unavailable."""
    if not enabled():
        return None
    try:
        with SETUP.counting():
            module = _built() or _build()
        if not module.has_blas():
            raise RuntimeError("this PyTorch build exports no BLAS sgemm_")
        return module
    except Exception as exc:  # a missing compiler or ninja, an unsupported platform, ...
        logger.warning("the fast CPU GRU kernel could not be built (%s); GRUs train with "
                       "torch.nn.GRU, several times slower on CPU. Set %s=0 to silence this.",
                       _first_error(exc), ENV_SWITCH)
        return None


def _loaded() -> ModuleType:
    module = kernel()
    if module is None:
        raise RuntimeError("the fast GRU kernel is not available: check FAST_PATH.use() first")
    return module


def _built() -> ModuleType | None:
    """The extension already built in the cache, imported without ninja.

    ninja's build file names the source's and torch's absolute paths, so going through
    `cpp_extension.load` would rebuild for every checkout and virtual environment.
    """
    found = sorted(cache_dir().glob("selector_fast_gru*.so"))
    if not found:
        return None
    spec = importlib.util.spec_from_file_location(found[-1].stem, found[-1])
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build() -> ModuleType:
    from torch.utils import cpp_extension

    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    if not any(directory.glob("*.so")):
        logger.info("building the fast CPU GRU kernel once, in %s (about 30 s)", directory)
    return cpp_extension.load(name="selector_fast_gru", sources=[str(SOURCE)],
                              extra_cflags=_FLAGS, extra_ldflags=["-fopenmp"],
                              build_directory=str(directory), verbose=False)


def _first_error(exc: Exception) -> str:
    """The compiler's first error line if there is one, else the exception's last line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    if errors:
        return errors[0]
    return lines[-1] if lines else type(exc).__name__


class _Recurrence(torch.autograd.Function):
    """One GRU layer in one direction over time-major input (T, B, I) from state h0 (B, H)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, h0: torch.Tensor, w_ih: torch.Tensor,
                w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
        steps, batch, _ = x.shape
        gates = (x.reshape(steps * batch, -1) @ w_ih.t()).add_(b_ih).view(steps, batch, -1)
        outputs, ghn = _loaded().forward(gates, h0, w_hh.contiguous(), b_hh.contiguous())
        ctx.save_for_backward(x, h0, w_ih, w_hh, gates, ghn, outputs)
        return outputs

    @staticmethod
    def backward(ctx: Any, grad_outputs: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, h0, w_ih, w_hh, gates, ghn, outputs = ctx.saved_tensors
        steps, batch, hidden = outputs.shape
        d_gh, d_gin, d_h0 = _loaded().backward(grad_outputs.contiguous(), gates, ghn, outputs, h0,
                                              w_hh.contiguous())
        # The input projections' gradient is d_gh's for the r and z gates and d_gin for n.
        d_rz = d_gh.view(steps * batch, 3 * hidden)[:, :2 * hidden]
        d_n = d_gin.view(steps * batch, hidden)
        flat_x = x.reshape(steps * batch, -1)
        # MKL is several times slower on some skinny shapes (an output or inner dimension of 8)
        # than on their transposes: these orders are fast for every width measured.
        d_w_ih = torch.cat([flat_x.t() @ d_rz, flat_x.t() @ d_n], dim=1).t()
        d_w_hh = (h0.t() @ d_gh[0]).t()  # the state before step 0 is h0, then step t - 1's output
        if steps > 1:
            d_w_hh = d_w_hh.addmm(d_gh[1:].reshape(-1, 3 * hidden).t(),
                                  outputs[:-1].reshape(-1, hidden))
        d_b_hh = d_gh.view(steps * batch, 3 * hidden).sum(0)
        d_b_ih = torch.cat([d_b_hh[:2 * hidden], d_n.sum(0)])
        d_x = None
        if ctx.needs_input_grad[0]:
            d_x = (w_ih[:2 * hidden].t() @ d_rz.t()).addmm_(w_ih[2 * hidden:].t(), d_n.t())
            d_x = d_x.t().reshape_as(x)
        return d_x, d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh


def gru(rnn: nn.GRU, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """``rnn``'s output for batch-first ``x`` (B, T, I), through the fast kernel.

    Equal to ``rnn(x)[0]`` (to float32 rounding) for a unidirectional ``rnn``; for a
    bidirectional one with ``lengths``, equal to running it on the packed sequences at every
    real step (the backward direction starts at each sequence's own last step). Dropout between
    layers is applied as `nn.GRU` applies it.
    """
    h0 = x.new_zeros(x.shape[0], rnn.hidden_size)

    def layer(source: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        return _Recurrence.apply(source, h0, *weights)  # type: ignore[no-untyped-call]  # unannotated in torch

    return padded.stacked(rnn, x, lengths, layer)


_INFERENCE = [False]  # inside `inference()`: no-grad forward passes may take the kernel too


@contextlib.contextmanager
def inference() -> Iterator[None]:
    """Let no-grad forward passes (validation, scoring) run through the kernel where faster.

    Opt-in, so that latency measurement and export (TorchScript tracing, ONNX) keep plain
    `nn.GRU`, which is what a deployed model runs.
    """
    before = _INFERENCE[0]
    _INFERENCE[0] = True
    try:
        yield
    finally:
        _INFERENCE[0] = before


def applicable(rnn: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``rnn`` on ``x`` could take the fast path: a GRU in float32 on CPU, training
    with gradients, or evaluating without them inside `inference()`."""
    grad = torch.is_grad_enabled()
    mode = (rnn.training and grad) or (_INFERENCE[0] and not grad)
    return (isinstance(rnn, nn.GRU) and mode and x.device.type == "cpu"
            and x.dtype == torch.float32 and rnn.weight_hh_l0.dtype == torch.float32
            and rnn.bias and not torch.jit.is_tracing() and not torch.is_inference_mode_enabled()
            and enabled())


PROBE_STEPS = 256  # the longest probe a shape is timed on


class FastPath:
    """Decides, once per shape, whether the fast kernel beats `nn.GRU` for a training step.

    A shape is the GRU's (input, hidden, layers, directions) with the batch's size, its
    length rounded up to a power of two, and whether gradients flow. Each is timed once per
    process, through both paths on a probe of that shape (forward and backward, or forward
    alone without gradients), at most `PROBE_STEPS` long: both paths cost the same per step
    along a sequence, so a longer probe would only make the timing slower (32 s for the shapes
    of one trial at 2,000 steps). Where the two are within 10% `nn.GRU` is kept. The timing is
    one-time work (`SETUP`), left out of training timers.
    """

    def __init__(self) -> None:
        self._faster: dict[tuple[int, ...], bool] = {}

    def use(self, rnn: nn.Module, x: torch.Tensor) -> TypeGuard[nn.GRU]:
        if not applicable(rnn, x) or kernel() is None:
            return False
        assert isinstance(rnn, nn.GRU)
        batch, length, _ = x.shape
        grad = torch.is_grad_enabled()
        key = (rnn.input_size, rnn.hidden_size, rnn.num_layers, int(rnn.bidirectional), batch,
               1 << max(0, length - 1).bit_length(), int(grad))
        if key not in self._faster:
            with SETUP.counting():
                self._faster[key] = self._time(rnn, x, key[-2], grad)
        return self._faster[key]

    @staticmethod
    def _time(rnn: nn.GRU, x: torch.Tensor, length: int, grad: bool) -> bool:
        probe = x.detach()[:, :1].expand(-1, min(length, PROBE_STEPS), -1).contiguous()
        probe.requires_grad_(grad and x.requires_grad)  # an embedding's output needs its grad
        runs: dict[str, Callable[[], torch.Tensor]] = {
            "fast": lambda: gru(rnn, probe), "torch": lambda: rnn(probe)[0]}
        grads = [p.grad for p in rnn.parameters()]  # the training step's own, kept intact
        rnn.zero_grad(set_to_none=True)  # (backward would add to them in place)
        best = {}
        for name, run in runs.items():
            times = []
            for _ in range(3):
                start = time.perf_counter()
                out = run()
                if grad:
                    out.sum().backward()
                times.append(time.perf_counter() - start)
            best[name] = min(times[1:])
        for parameter, kept in zip(rnn.parameters(), grads, strict=True):
            parameter.grad = kept
        faster = best["fast"] < 0.9 * best["torch"]
        logger.debug("fast GRU %s for batch %d, length %d, %s: %.2f vs %.2f ms",
                     "used" if faster else "not used", x.shape[0], length,
                     "training" if grad else "inference", 1e3 * best["fast"], 1e3 * best["torch"])
        return faster


FAST_PATH = FastPath()
"""The process's decisions: one timing per shape, shared by every trial's model."""
