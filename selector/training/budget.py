"""Time budgets: one clock, one plan for a whole command, and training that ends in time.

`--budget S` is a promise that the command ends within S seconds plus `tolerance(S)`. A
`BudgetPlan` shares S out between the stages (the search and the final comparison train until
its ``work`` deadline, the timings end by ``measuring``, the hand-over has the rest); each stage
gets `Deadline`s, never the wall clock itself: a deadline carries the `Clock` it is read on
(`SYSTEM_CLOCK`, the one place budgeting reads the time; a test passes a fake one). Each training
run gets a deadline of its own, and `StopAtDeadline` ends the run in time for its last
validation, keeping the best epoch so far. What cannot be cut (one training batch, one
validation pass, the hand-over's exports) is what the tolerance covers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

HANDOVER_SHARE = 0.10  # of --budget, kept for timing, export, MLflow and the reports
HANDOVER_MIN_S = 20.0
SEARCH_SHARE = (0.35, 0.6)  # the search's least and largest share of the training time
VALIDATION_COST = 1.0  # a sequence's validation against its training step: about as long
# (no backward, but batches of 256 through the plain cells: 0.85 measured for an LSTM at 2,000 steps)


Clock = Callable[[], float]  # seconds, on time.time()'s scale
SYSTEM_CLOCK: Clock = time.time


@dataclass(frozen=True)
class Deadline:
    """A time by which something must end (``at``), read on ``clock``."""

    at: float
    clock: Clock = SYSTEM_CLOCK

    def now(self) -> float:
        return self.clock()

    def left(self) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.at - self.clock()

    def passed(self) -> bool:
        return self.clock() >= self.at

    def after(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, on the same clock."""
        return Deadline(self.clock() + seconds, self.clock)

    def moved(self, seconds: float) -> Deadline:
        """This deadline, ``seconds`` later (earlier when negative)."""
        return Deadline(self.at + seconds, self.clock)


@dataclass(frozen=True)
class BudgetPlan:
    """How ``budget`` seconds from ``started`` are shared out: training (the search and the
    final comparison) ends by ``work``, the comparison's timings by ``measuring``, and the
    hand-over has what is left (`handover_reserve`)."""

    budget: float
    started: float
    clock: Clock = SYSTEM_CLOCK

    @classmethod
    def starting(cls, budget: float, started: float | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> BudgetPlan:
        """The plan of a budget counted from ``started`` (default: now, on ``clock``)."""
        return cls(budget, clock() if started is None else started, clock)

    @property
    def work(self) -> Deadline:
        return Deadline(self.started + self.budget - handover_reserve(self.budget), self.clock)

    @property
    def measuring(self) -> Deadline:
        return self.work.moved(handover_reserve(self.budget) / 3)

    def elapsed(self) -> float:
        return self.clock() - self.started


def tolerance(budget: float) -> float:
    """Seconds a budgeted command may overrun: what no deadline can cut short."""
    return max(10.0, 0.05 * budget)


def handover_reserve(budget: float) -> float:
    """Seconds kept back from training for the steps after it."""
    return min(budget / 2, max(HANDOVER_MIN_S, HANDOVER_SHARE * budget))


def process_started() -> float:
    """When this process started (a `time.time()` value, to about a second), so that a
    command's budget counts its start-up too; now, where the system does not say."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return min(time.time(), boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


class StopAtDeadline(Callback):
    """End training by the deadline ``at``, with its last validation done.

    At the end of an epoch, training stops when another epoch as long as the last would not
    end in time; inside an epoch, it stops after the batch that passes ``at`` less the last
    validation's duration (Lightning still validates a stopped epoch, so its weights count).
    ``cut`` says whether the deadline, not early stopping or the epoch limit, ended the run.
    Before the first validation its length is estimated from the training batches so far:
    ``val_share`` validation sequences per training sequence, at `VALIDATION_COST` of a
    training step's time per sequence.
    """

    def __init__(self, at: Deadline, *, val_share: float = 0.0) -> None:
        self.at = at.at
        self.clock = at.clock
        self.cut = False
        self.val_share = val_share
        self._epoch_started = self._val_started = self.clock()
        self._val_seconds: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._epoch_started = self.clock()

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: object,
                           batch: object, batch_idx: int) -> None:
        now = self.clock()
        validation = self._val_seconds
        if validation is None:  # before the first: in proportion to the training so far
            per_batch = (now - self._epoch_started) / (batch_idx + 1)
            batches = trainer.num_training_batches
            epoch = per_batch * (batches if isinstance(batches, int) else batch_idx + 1)
            validation = epoch * self.val_share * VALIDATION_COST
        if not trainer.should_stop and now + validation >= self.at:
            self._stop(trainer)

    def on_validation_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._val_started = self.clock()

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        now = self.clock()
        self._val_seconds = now - self._val_started
        last_epoch = trainer.max_epochs is not None and \
            trainer.current_epoch + 1 >= trainer.max_epochs
        if not (trainer.should_stop or last_epoch) and \
                now + (now - self._epoch_started) > self.at:
            self._stop(trainer)

    def _stop(self, trainer: pl.Trainer) -> None:
        trainer.should_stop = True
        self.cut = True
