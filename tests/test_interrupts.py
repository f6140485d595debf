"""Signals interrupt training at once, and anything else (storage writes) at the next safe point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from selector.interrupts import Interrupts


def test_a_signal_outside_training_waits_for_the_next_safe_point() -> None:
    interrupts = Interrupts()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # e.g. while Optuna writes a trial: no exception
        assert interrupts.requested == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            interrupts.checkpoint()  # after the write
        fresh = Interrupts()
        fresh.install()
        with pytest.raises(KeyboardInterrupt), fresh.interruptible():
            os.kill(os.getpid(), signal.SIGINT)  # while training: at once
            raise AssertionError("not interrupted")
        with pytest.raises(KeyboardInterrupt), fresh.interruptible():  # a pending one stops
            raise AssertionError("training started after an interrupt")  # the next training
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


CAUGHT_IN_EXEC = """
import selector.cli as cli

def run(args):  # an interrupt that lands in exec'd code (a dataclass being built), caught
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        return 130

cli.run = run
cli.main()
"""


def test_an_interrupt_caught_inside_exec_still_exits_130_not_by_sigint(tmp_path: Path) -> None:
    """A signal that arrives while a module builds a dataclass: exit 130, as anywhere else.
    Run as ``python -m`` (as `python -m selector` runs), CPython would otherwise end the
    process by SIGINT: returncode -2, also for a SIGTERM."""
    (tmp_path / "caught_in_exec.py").write_text(CAUGHT_IN_EXEC)
    done = subprocess.run([sys.executable, "-m", "caught_in_exec"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 130, done.stderr


SIGNALLED_AT = """
import os, signal, sys

import typer.core

import selector.cli as cli
import selector.data
from selector.__main__ import main


def signalled(original):
    def wrapped(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # handled before `original` runs
        return original(*args, **kwargs)
    return wrapped


point = sys.argv.pop(1)
if point == "building the command":
    cli.command = signalled(cli.command)
elif point == "parsing the flags":
    typer.core.TyperGroup.parse_args = signalled(typer.core.TyperGroup.parse_args)
else:  # the command's own code: loading the data
    selector.data.load_dataset = signalled(selector.data.load_dataset)
main()
"""


@pytest.mark.parametrize(("point", "message"), [
    ("building the command", "Interrupted while starting: nothing was done."),
    ("parsing the flags", "Interrupted while starting: nothing was done."),
    ("the command's code", "Interrupted.")])
def test_a_signal_at_any_point_of_start_up_exits_130_saying_so(
        tmp_path: Path, point: str, message: str) -> None:
    """SIGTERM while Typer builds the command or parses its flags, or as the command starts:
    exit 130 and one line on stderr (Typer had turned the one while parsing into a silent
    exit 130, and the one while building into a traceback)."""
    (tmp_path / "signalled_at.py").write_text(SIGNALLED_AT)
    done = subprocess.run([sys.executable, "-m", "signalled_at", point, "profile",
                           "example:digits"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert (done.returncode, done.stderr.strip()) == (130, message), done.stderr
