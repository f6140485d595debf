"""What a candidate will cost before it trains, and whether a budgeted search can pay for it.

Under `--budget` no trial may train longer than `TRIAL_SHARE` of the search's time
(`selector.search.schedule.SearchClock.trial_cap`). Before a candidate trains, one training
step of it, and of its twin (the same hyperparameters in the other cell, which the search
queues when a candidate becomes its cell's best), is timed at its batch size on a probe of
the data's median length; times the steps a search epoch takes, with its validation, that is
the epoch's estimated seconds. The study's finished trials calibrate the probe: the estimate
is scaled by the median ratio of their measured epochs to their own probes.

A candidate whose first pruning rung (`TrainingSettings.min_epochs_before_pruning` epochs)
would cost more than `RUNG_SHARE` of what a trial may train reads its search epochs in
chunks (`selector.training.fidelity`): as many training sequences, drawn afresh each epoch,
as let that rung fit there, so that a wide network is compared with cheap ones after
seconds, not after whole epochs, before any candidate is given up for its size. Its epoch
limit and patience grow with the chunks per pass. One whose rung would not fit in what a
trial may train even at `MIN_CHUNK_BATCHES` batches an epoch, or whose twin's would not, is
rejected untrained: the search's time goes to candidates that can be compared. A cell's
first trial is never chunked or rejected so (without one, nothing can be compared, or
calibrated); its deadline cuts it instead.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import optuna
import torch

from selector.choices import Cell, other_cell
from selector.data.dataset import SequenceData
from selector.errors import param
from selector.records import CELLS, ModelConfig
from selector.search.schedule import MARGIN
from selector.search.state import trial_attrs
from selector.search.study import cell_of
from selector.training.budget import VALIDATION_COST
from selector.training.cost import Probe, timings_ms, training_step
from selector.training.fitting import build_net
from selector.training.model import RecurrentNet

RUNG_SHARE = 0.25  # of what one trial may train: the most a candidate's first rung may cost
MIN_CHUNK_BATCHES = 8  # a search epoch read in chunks reads at least this many batches


def epoch_seconds(trial: optuna.trial.FrozenTrial) -> float | None:
    """A trained trial's median epoch, training and validation; None before its first."""
    curves = trial_attrs(trial).curves
    if not curves:
        return None
    return statistics.median(e["train_seconds"] + e.get("val_seconds", 0.0) for e in curves)


def calibration(study: optuna.Study) -> float:
    """How much longer trials' epochs took than their probes said: the median ratio over the
    finished trials that have both (1 before any)."""
    ratios = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED)):
        measured, probed = epoch_seconds(trial), trial_attrs(trial).probe_epoch_seconds
        if measured is not None and probed:
            ratios.append(measured / probed)
    return statistics.median(ratios) if ratios else 1.0


@dataclass(frozen=True)
class TrialCosting:
    """Prices candidates before they train (see the module). ``cap`` gives the seconds one
    trial may train now; a search epoch reads ``epoch_sequences`` training sequences and
    validates ``val_sequences``; the pruner first judges a trial after ``rung`` epochs."""

    data: SequenceData
    probe: Probe
    cap: Callable[[], float]
    epoch_sequences: int
    val_sequences: int
    rung: int

    def probe_epoch(self, net: RecurrentNet) -> float:
        """One search epoch of ``net``, in seconds, from one timed training step (on a copy:
        a step changes the weights) after one untimed."""
        batch = net.config.batch_size
        step = timings_ms(training_step(copy.deepcopy(net), self.probe, batch), 1,
                          warmup=1)[0] / 1000.0
        return step * math.ceil(self.epoch_sequences / batch) * (1 + self.validation_share)

    @property
    def validation_share(self) -> float:
        """A search epoch's validation, as a share of its training's seconds."""
        return VALIDATION_COST * self.val_sequences / self.epoch_sequences

    def price(self, study: optuna.Study, net: RecurrentNet, *, twin: bool) -> Price:
        """The candidate's probed epoch seconds (uncalibrated, for the record), the chunk its
        search epochs read when a whole one would make its first rung dear, and, when it (or,
        with ``twin``, its twin) cannot reach its first rung in time even so, why it is
        rejected."""
        cell = net.config.cell
        with torch.random.fork_rng():  # dropout and the twin's weights: the trial's seeding
            probed = {cell: self.probe_epoch(net)}  # stays as if nothing had been timed
            if not _trained(study, cell):
                return Price(probed[cell])
            if twin:
                other = other_cell(cell)
                probed[other] = self.probe_epoch(build_net(replace(net.config, cell=other),
                                                           self.data))
        scale, cap, batch = calibration(study), self.cap(), net.config.batch_size
        read = {c: self.readable(scale * s, cap, batch) for c, s in probed.items()}
        epochs = {c: self.epoch_of(scale * s, read[c]) for c, s in probed.items()}
        over = [f"{c.upper()} {self.rung} x {e:.1f}" for c, e in epochs.items()
                if self.rung * e > cap]
        chunk = None if read[cell] >= self.epoch_sequences else read[cell]
        if not over:
            return Price(probed[cell], chunk)
        return Price(probed[cell], chunk, (
            f"its first {self.rung} epochs (before a pruning check) would take longer than the "
            f"{cap:.0f} s one trial may train under {param('budget')}, even reading "
            f"{MIN_CHUNK_BATCHES} batches an epoch: {', '.join(over)} s"))

    def readable(self, epoch: float, cap: float, batch: int) -> int:
        """How many training sequences a search epoch may read for a candidate whose whole
        search epoch takes ``epoch`` seconds: all while its first rung costs at most
        `RUNG_SHARE` of the ``cap`` one trial may train, else as many as fit there (its
        validation stays whole), but never fewer than `MIN_CHUNK_BATCHES` batches."""
        whole = self.epoch_sequences
        validating = self.epoch_of(epoch, 0)
        room = RUNG_SHARE * cap / self.rung - validating
        reading = epoch - validating
        if reading <= room:
            return whole
        return min(whole, max(MIN_CHUNK_BATCHES * batch, int(whole * room / reading)))

    def epoch_of(self, epoch: float, sequences: int) -> float:
        """A search epoch reading ``sequences`` training sequences, for a candidate whose
        whole search epoch takes ``epoch`` seconds."""
        validation = self.validation_share
        return epoch * (sequences / self.epoch_sequences + validation) / (1 + validation)


@dataclass(frozen=True)
class Price:
    """What `TrialCosting.price` found: the candidate's probed search epoch (seconds,
    uncalibrated), the training sequences each of its search epochs reads (None: a whole
    epoch) and why it is rejected untrained (None: it trains)."""

    probed: float
    chunk: int | None = None
    rejected: str | None = None


def least_useful(costing: TrialCosting, cheapest: ModelConfig) -> tuple[float, dict[Cell, float]]:
    """The training seconds of the smallest useful recommendation, and each cell's probed
    epoch: each cell's ``cheapest`` candidate trained to its first rung in the search and
    again with a second seed (the comparison's least), `MARGIN` on top for measuring."""
    with torch.random.fork_rng():
        epochs = {c: costing.probe_epoch(build_net(replace(cheapest, cell=c), costing.data))
                  for c in CELLS}
    return MARGIN * 2 * costing.rung * sum(epochs.values()), epochs


def _trained(study: optuna.Study, cell: Cell) -> bool:
    """Whether ``cell`` has a complete trial."""
    return any(cell_of(t) == cell for t in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
