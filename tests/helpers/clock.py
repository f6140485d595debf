"""A fake clock for budget tests: time moves only when the test says so, so a budget is
tested without sleeping and without any bound on the wall clock."""

from __future__ import annotations

import pytest
import torch

from selector.training.system import SequenceSystem


class FakeClock:
    """`selector.training.budget.Clock` that reads ``now`` and moves only by `advance`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def slow_training_steps(monkeypatch: pytest.MonkeyPatch, clock: FakeClock,
                        seconds: float) -> None:
    """Every training step takes ``seconds`` on ``clock`` (and no longer on the wall)."""
    step = SequenceSystem.training_step

    def slow(self: SequenceSystem, *args: object) -> torch.Tensor:
        clock.advance(seconds)
        return step(self, *args)

    monkeypatch.setattr(SequenceSystem, "training_step", slow)
