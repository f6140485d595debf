"""Early stopping that does not end a run on the plateau before it learns.

Long-range tasks sit at the trivial predictor's loss for many epochs, then learn; plain
early stopping (patience 5) ends them at the plateau and the cell is judged untrained. The
rule here: patience counts only once the validation score has beaten the trivial baseline
(`selector.training.baselines.learned`), or once a warm-up of `WARMUP_SHARE` of the epoch limit has
passed without it; pruning waits for the same (`WarmPruning`), so a trial is compared with its
own cell's only once it has learned or had its warm-up.
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
import optuna
from lightning.pytorch.callbacks import Callback
from optuna_integration import PyTorchLightningPruningCallback

from selector.choices import Direction, sign
from selector.training.baselines import learned

WARMUP_SHARE = 2 / 3  # of max_epochs: how long a run that has not learned yet keeps training


def warmup_epochs(max_epochs: int, patience: int) -> int:
    """Epochs a run that has not beaten its baseline trains before patience applies."""
    return max(patience, math.ceil(WARMUP_SHARE * max_epochs))


MIN_DELTA = 1e-3  # an improvement smaller than this share of the baseline's error is none


class PlateauStopping(Callback):
    """Stop after ``patience`` epochs without a better validation score, counted from the
    first epoch that beat ``baseline`` (its standard error ``noise``; see
    `selector.training.baselines.learned`), or from the end of the warm-up if none did. Better
    means by at least `MIN_DELTA` of the baseline's error: a crawl along a plateau is not
    progress."""

    def __init__(self, *, baseline: float, direction: Direction, patience: int, warmup: int,
                 noise: float = 0.0) -> None:
        self.baseline = baseline
        self.noise = noise  # the baseline's standard error on the validation split
        self.direction = direction
        self.patience = patience
        self.warmup = warmup
        self.learned = False
        self.epochs = 0
        self._best = -math.inf
        self._wait = 0
        error = 1 - baseline if direction == "maximize" else baseline
        self._min_delta = MIN_DELTA * abs(error)

    @property
    def warming(self) -> bool:
        """Not learned yet, and still within the warm-up."""
        return not self.learned and self.epochs < self.warmup

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = float(trainer.callback_metrics["val_score"])
        self.epochs += 1
        self.learned = self.learned or learned(score, self.baseline, self.direction, self.noise)
        signed = sign(self.direction) * score
        if signed > self._best + self._min_delta:
            self._best, self._wait = signed, 0
        else:
            self._wait += 1
        if not self.warming and self._wait >= self.patience:
            trainer.should_stop = True


class WarmPruning(PyTorchLightningPruningCallback):  # type: ignore[misc]  # untyped package
    """Optuna's Lightning pruning callback, which only reports while ``stopping`` warms up."""

    def __init__(self, trial: optuna.Trial, stopping: PlateauStopping) -> None:
        super().__init__(trial, monitor="val_score")
        self.stopping = stopping

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if self.stopping.warming:
            self._trial.report(float(trainer.callback_metrics["val_score"]),
                               step=module.current_epoch)
            return
        super().on_validation_end(trainer, module)
