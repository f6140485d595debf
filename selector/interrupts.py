"""Ctrl-C and SIGTERM that never land in the middle of a storage write.

A KeyboardInterrupt raised while Optuna records a trial (a SQL flush) leaves that trial
half-told, and Optuna itself then fails with an UnboundLocalError (seen under CI). So signals
interrupt at once only while a model trains (`interruptible`); anywhere else they are noted and
raised at the next safe point (`checkpoint`: before the next training, after a trial is told).
"""

from __future__ import annotations

import contextlib
import os
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


def stop_while_starting(signum: int, frame: FrameType | None) -> None:
    """The ``selector`` process's handler until a command's own code runs: while Python, Typer
    and the libraries load and the flags are parsed, nothing has been written, so a signal ends
    the process at once (exit 130). Raising KeyboardInterrupt there is not safe: Typer turns one
    met while it parses flags into a silent exit 130, and one met while it builds the command
    escapes as a traceback."""
    os.write(2, b"Interrupted while starting: nothing was done.\n")
    os._exit(130)


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


def command_started() -> None:
    """A command's own code runs from here: in the ``selector`` process, SIGINT and SIGTERM now
    raise KeyboardInterrupt, which the command turns into its own exit 130 (commands that run
    trials defer it to safe points, `Interrupts`). Any other handler (a program that called
    the CLI in its own process, signals ignored under ``nohup``) is left as it is."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is stop_while_starting:
            signal.signal(sig, _raise)
