"""Ctrl-C and SIGTERM that never land in the middle of a storage write.

A KeyboardInterrupt raised while Optuna records a trial (a SQL flush) leaves that trial
half-told, and Optuna itself then fails with an UnboundLocalError (seen under CI). So signals
interrupt at once only while a model trains (`interruptible`); anywhere else they are noted and
raised at the next safe point (`checkpoint`: before the next training, after a trial is told).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


class Interrupts:
    """The process's SIGINT/SIGTERM handling for training work."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self.depth = 0  # > 0 while inside `interruptible`

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = signum
        if self.depth:
            raise KeyboardInterrupt(f"signal {signum}")

    def checkpoint(self, *_: object) -> None:
        """Raise the interrupt that arrived while it was unsafe (usable as an Optuna callback)."""
        if self.requested is not None:
            raise KeyboardInterrupt(f"signal {self.requested}")

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        self.checkpoint()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


INTERRUPTS = Interrupts()  # signal handlers are per process, so is this


def _raise(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def forget_caught_interrupts() -> None:
    """Let the exit code chosen for a caught Ctrl-C/SIGTERM stand.

    CPython marks a KeyboardInterrupt that leaves code run by ``exec`` of a string (dataclasses
    and namedtuples build their methods so, as modules are imported) as unhandled, even when
    an outer handler catches it; on exit it then kills the process with SIGINT instead of
    exiting with the code given (seen as returncode -2 where 130 was chosen, also for SIGTERM).
    The mark is reset at the start of every such ``exec``: one that runs uninterrupted clears
    it."""
    exec("")  # runs nothing; resets the interpreter's unhandled-interrupt mark


def raise_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt wherever the process is: for commands that
    write no study (profile, report, predict, dashboard). Signals ignored by the parent
    (``nohup``) stay ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _raise)
