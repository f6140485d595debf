"""The `selector` command line: parses flags, calls the library, prints results.

`common` holds the app, the shared options and error handling; the commands live in
`data` (profile, examples), `searching` (recommend, create-study, worker) and `results`
(report, predict, dashboard), registered in that order; `show` prints. `main` is the
entry point: it sets up the process for a terminal, which the library never does.
"""

from __future__ import annotations

import importlib
import logging
import os

import matplotlib
import torch

from selector.cli.common import app, warn
from selector.interrupts import raise_on_signals
from selector.search.study import threads_per_worker
from selector.training.fit import reuse_freed_memory

__all__ = ["app", "main"]

for _module in ("data", "searching", "results"):  # each registers its commands, in help order
    importlib.import_module(f"selector.cli.{_module}")


class WarningsToStderr(logging.Handler):
    """selector's own log warnings (the storage reconnecting) as the CLI's warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def main() -> None:
    """The terminal's process-wide set-up (the library leaves the process as it is), then
    the command."""
    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("agg")  # plots are files: no window, no display needed
    reuse_freed_memory()
    library = logging.getLogger("selector")
    library.addHandler(WarningsToStderr(logging.WARNING))
    library.propagate = False
    raise_on_signals()  # commands that run trials defer them to safe points (`interruptible`)
    if "OMP_NUM_THREADS" not in os.environ:  # torch counts the machine's cores, not our share
        torch.set_num_threads(threads_per_worker(1))
    app()

