"""Sharing a `--budget` out: how long the search may run, and what each final run may take.

The command's training time (the budget less `budget.handover_reserve`) is split between the
search and the final comparison from the start: the comparison's share is its estimate from
the trials so far (each cell's best trial is what one of its runs costs), kept between
`budget.SEARCH_SHARE`'s bounds, and re-estimated as trials finish. Inside the comparison,
seed pairs run while they fit; each run's deadline is its share of the time left in
proportion to its expected length, and seeds that cannot be paid for are dropped rather
than every run being starved.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna

from selector.choices import Cell
from selector.data.crossval import plan, refit_share
from selector.data.dataset import SequenceData
from selector.records import CELLS, SHORT_SEQUENCE_STEPS
from selector.search.space import SearchSpace
from selector.search.state import trial_attrs
from selector.search.study import best_by_cell, cell_of
from selector.training.budget import SEARCH_SHARE, Deadline

CONTEXT_SHARES = (0.25, 0.5)  # L1: the context models see the last 1/4 and 1/2 of each sequence
TRIAL_SHARE = 0.25  # of the search's largest share: the most one trial may train
CUT_PAIR_SHARE = 0.25  # a cut pair runs only with at least this share of its expected time
MARGIN = 1.25  # on top of training time: testing and measuring each run


def run_seconds(trial: optuna.trial.FrozenTrial) -> float:
    """The seconds of a trial's epochs, training and validation."""
    return sum(e["train_seconds"] + e.get("val_seconds", 0.0) for e in trial_attrs(trial).curves)


def overhead_seconds(trial: optuna.trial.FrozenTrial) -> float:
    """A trial's wall time outside its epochs and one-time set-up: measuring its cost,
    scoring it. A final run spends about as long after its training."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return 0.0
    wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return max(0.0, wall - run_seconds(trial) - trial_attrs(trial).setup_seconds)


def expected_runs(study: optuna.Study) -> dict[str, float]:
    """What one final run of each cell is expected to take, measuring and scoring included:
    its best trial's (the mean over all complete trials for a cell without one); empty
    before any completes."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not trials:
        return {}
    typical = statistics.fmean(run_seconds(t) + overhead_seconds(t) for t in trials)
    bests = best_by_cell(study, trials)
    return {c: run_seconds(bests[c]) + overhead_seconds(bests[c]) if c in bests else typical
            for c in CELLS}


def expected_overheads(study: optuna.Study) -> dict[str, float]:
    """Each cell's seconds after training (`overhead_seconds`), the largest seen; 0 before
    any trial completes."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {c: max((overhead_seconds(t) for t in trials if cell_of(t) == c), default=max(
        (overhead_seconds(t) for t in trials), default=0.0)) for c in CELLS}


def is_short(data: SequenceData) -> bool:
    """Median length under `SHORT_SEQUENCE_STEPS`: L1 (distant context) does not apply."""
    return statistics.median(data.lengths.tolist()) < SHORT_SEQUENCE_STEPS


def estimated_seconds(study: optuna.Study, data: SequenceData, seeds: int, *,
                      next_trial: bool = False) -> float | None:
    """How long `final.compare` and `final.refit` would take now with ``seeds`` fresh seeds:
    each cell's expected run (cross-validation's folds train on less), the shorter runs of
    L1 in proportion to the steps they see, the refit (`refit_share`), and `MARGIN` on top; with
    ``next_trial``, one typical trial more before it. None before any trial completed."""
    expected = expected_runs(study)
    if not expected:
        return None
    per_seed = sum(len(r.train) for r in plan(data, (0,))) / len(data.splits.train)
    long_range = 0.0 if is_short(data) else sum(CONTEXT_SHARES)
    refit = max(expected.values()) * refit_share(data)
    runs = seeds * sum(expected.values()) * (per_seed + long_range) + refit
    typical = statistics.fmean(expected.values())
    return MARGIN * (runs + (typical if next_trial else 0.0))


def start_cheap(study: optuna.Study, space: SearchSpace, data: SequenceData) -> None:
    """Under a budget, a new study's first candidate is the space's cheapest
    (`SearchSpace.cheapest`), and the twin rule queues its LSTM next: on long data the
    sampler's first draw alone could spend the budget (112 units x 2 layers at 400 steps
    left time for 2 trials in 15 minutes), where a small pair trains to a verdict."""
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(space.cheapest(text=data.is_text, lookbacks=data.lookbacks))


@dataclass(frozen=True)
class SearchBudget:
    """What a budgeted search is given: the deadline by which all training (the search and the
    final comparison) ends, and how many fresh seed runs per cell the comparison plans."""

    work: Deadline
    final_seeds: int


@dataclass(frozen=True)
class SearchClock:
    """When the search must end under a budget, and each trial's deadline.

    ``start`` (on the deadline's clock) and ``work_end`` bound the training time; ``seeds``
    is how many fresh seeds the comparison will train per cell.
    """

    start: float
    work_end: Deadline
    seeds: int
    data: SequenceData

    @classmethod
    def starting(cls, budget: SearchBudget, data: SequenceData) -> SearchClock:
        """The search's clock from now: its shares are of the time left."""
        return cls(budget.work.now(), budget.work, budget.final_seeds, data)

    def search_end(self, study: optuna.Study) -> float:
        """The comparison's estimated share, within the search's bounds, comes off the end."""
        span = self.work_end.at - self.start
        estimate = estimated_seconds(study, self.data, self.seeds)
        least, most = (1 - SEARCH_SHARE[1]) * span, (1 - SEARCH_SHARE[0]) * span
        reserve = (least + most) / 2 if estimate is None else min(max(estimate, least), most)
        return self.work_end.at - reserve

    def keep_going(self, study: optuna.Study) -> bool:
        """Start another trial while a cell has none complete (until the search's largest
        share is spent), or else if it gets at least a quarter of a typical trial's time."""
        now = self.work_end.now()
        if self._missing(study):
            return now < self.latest()
        typical = statistics.fmean(expected_runs(study).values())
        return now + CUT_PAIR_SHARE * typical < self.search_end(study)

    def latest(self) -> float:
        """The end of the search's largest share: a cell without a trial may run until then."""
        return self.start + SEARCH_SHARE[1] * (self.work_end.at - self.start)

    def first_end(self, study: optuna.Study) -> float:
        """By when a cell's first trial must be done while another cell still waits for its
        own: the search's least share, however the comparison's estimate moves."""
        least = self.start + SEARCH_SHARE[0] * (self.work_end.at - self.start)
        return min(self.search_end(study), least)

    def trial_cap(self) -> float:
        """The most seconds one trial may train: `TRIAL_SHARE` of the search's largest share."""
        return TRIAL_SHARE * (self.latest() - self.start)

    def trial_deadline(self, study: optuna.Study, cell: str) -> Deadline:
        """The search's end (`latest` for a cell's first trial); but while another cell than
        this trial's has no complete trial, an equal part of the time to `first_end` for each
        cell still missing one, so that both cells reach the comparison. Never more than
        `trial_cap` from now."""
        missing = self._missing(study)
        waiting = missing - {cell}
        now = self.work_end.now()
        if not waiting:
            end = max(self.search_end(study), self.latest() if cell in missing else 0.0)
        else:
            end = now + max(0.0, self.first_end(study) - now) / (len(waiting) + 1)
        return self._at(min(end, now + self.trial_cap()))

    def training_deadline(self, study: optuna.Study, cell: str) -> Deadline:
        """`trial_deadline`, less what a trial of ``cell`` spends after training."""
        return self.trial_deadline(study, cell).moved(-expected_overheads(study)[cell])

    def _at(self, at: float) -> Deadline:
        return Deadline(at, self.work_end.clock)

    @staticmethod
    def _missing(study: optuna.Study) -> set[Cell]:
        done = {cell_of(t) for t in study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))}
        return set(CELLS) - done


def pair_slices(left: float, expected: Mapping[Cell, float], pairs: Sequence[int],
                pairs_done: int) -> tuple[float | None, int]:
    """The seconds each run of the next seed pair may take (the same for both cells: equal
    effort, whatever a cut search trial suggested), and how many pairs (this one included)
    the budget pays for; None when it cannot pay for even a cut pair. ``pairs`` holds how
    many runs each remaining pair trains (2, or 1 where a reused search trial is one of them).

    A run is expected to take as long as the slower cell's best trial. Every remaining pair
    that fits runs uncut, the spare time shared out. Otherwise the pairs that fit whole run
    whole and the rest are dropped; and when not even one fits, a pair runs cut to the time
    left, if that is at least `CUT_PAIR_SHARE` of its expected time and fewer than two pairs
    are done (an interval needs two).
    """
    run = max(expected.values(), default=0.0)
    if run <= 0:
        return left / max(1, sum(pairs)), len(pairs)
    affordable = 0
    while affordable < len(pairs) and sum(pairs[:affordable + 1]) * run <= left:
        affordable += 1
    if affordable:
        return left / max(1, sum(pairs[:affordable])), affordable
    if pairs_done < 2 and left >= CUT_PAIR_SHARE * pairs[0] * run:
        return left / pairs[0], 1
    return None, 0
