"""Process-wide settings that the `selector` command and its worker processes make for
themselves: how many threads torch may use, how freed memory is kept, and denormal floats
flushed to zero. Library calls never make them (`selector.api.scope`); the command does, once,
before any work.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import platform
from pathlib import Path


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (a
    container's --cpus, a CI runner's limit), whichever is smaller."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = None
    with contextlib.suppress(OSError, ValueError):
        limit, period = (cgroup / "cpu.max").read_text().split()[:2]  # cgroup v2
        if limit != "max":
            quota = int(limit) / int(period)
    if quota is None:
        with contextlib.suppress(OSError, ValueError):
            quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())  # cgroup v1
            if quota_us > 0:
                quota = quota_us / int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    if quota is not None:
        cpus = min(cpus or 1, max(1, math.ceil(quota)))
    return max(1, cpus or 1)


def threads_per_worker(jobs: int) -> int:
    """Torch threads for each of ``jobs`` processes so they never oversubscribe the CPUs."""
    return max(1, available_cpus() // jobs)


FLUSH_DENORMALS = "SELECTOR_FLUSH_DENORMALS"  # "1": flush them, "0": keep them


def flush_denormals_unless_opted_out(*, unset: bool) -> bool:
    """`flush_denormals` when ``SELECTOR_FLUSH_DENORMALS`` says "1", not when it says "0",
    and as ``unset`` says otherwise (the one place the switch is read): the `selector`
    command sets it to "1" unless the user did, and asks with ``unset=False`` so that the CLI
    run inside another program's process leaves that process's mode alone; a worker process
    of selector's own asks with ``unset=True``. Returns whether it flushed."""
    wanted = {"1": True, "0": False}.get(os.environ.get(FLUSH_DENORMALS, ""), unset)
    return wanted and flush_denormals()


def flush_denormals() -> bool:
    """Treat denormal floats as zero in this process's floating-point arithmetic (x86 FTZ and
    DAZ); returns whether the CPU supports it.

    Backpropagating through long sequences drives gradients into the denormal range, where
    each operation costs tens of times a normal one: a training step at length 200 (hidden 64,
    batch 64, one thread) took 273 ms for an LSTM and 172 ms for the fast GRU with denormals,
    26 and 13 ms without, on a Xeon with AVX-512 (`python -m bench.cells`). Values that small
    change no trained weight that matters. The mode belongs to a thread: threads started
    afterwards (torch's OpenMP pool, the fast GRU's workers) inherit it, those already running
    keep theirs, so it is made before any training, by the command (unless
    ``SELECTOR_FLUSH_DENORMALS=0``) and by each worker process.
    """
    import torch

    return bool(torch.set_flush_denormal(True))


def flushing_denormals() -> bool:
    """Whether the calling thread flushes denormal floats to zero, whoever set it (read with
    NumPy, which the thread's mode governs as it does torch: serving reads it without torch)."""
    import numpy as np

    return float((np.array([1e-39], dtype=np.float32) * np.float32(1.0))[0]) == 0.0


def reuse_freed_memory() -> bool:
    """Keep large freed blocks in this process's heap (glibc), for the next training step.

    By default glibc hands every block over ~128 kB back to the OS when it is freed, so each
    step's activations are page-faulted in afresh (386 faults for one 2.4 MB tensor). Keeping
    them measured 5-10% off a training step, and 40% off an LSTM's at length 200 (46 -> 27 ms).
    The heap keeps up to 1 GiB free memory mapped in return. Returns whether it applied.
    It changes the whole process, so the command and its worker processes call it, not the
    library's training.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 256 << 20) and libc.mallopt(m_trim_threshold, 1 << 30))
