"""Signals interrupt training at once, and anything else (storage writes) at the next safe point."""

from __future__ import annotations

import os
import signal

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
