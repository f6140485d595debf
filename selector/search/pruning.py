"""Pruning that is fair between the cells: Hyperband per cell, and twins that get their chance.

Optuna's `HyperbandPruner` compares a trial with every trial of its bracket. In a study whose
trials are half GRU and half LSTM, that cuts the cell that starts slower for starting slower,
and a twin (the other cell at a cell's best hyperparameters, queued to compare like with like)
is pruned like any trial. `CellPruner` runs one Hyperband per cell over a view of the study
that holds only that cell's trials, and lets a twin run at least as far as the trial it
twins reached (in training sequences read: a budgeted search may have one of them read its
epochs in chunks) before Hyperband may stop it.

Under `--budget` the rungs are in seconds trained, not epochs (`make_pruner`'s ``unit``):
an epoch of a 256-unit two-layer candidate can cost twenty of a 32-unit one, and at equal
epochs Hyperband would keep the expensive one for learning more per epoch where, in the time
it took, the cheap one learned more. Trials are then compared on what they reached at equal
training time (the seconds of their epochs, `TrialAttrs.curves`), in units of ``unit`` seconds
(the probed search epoch of the space's cheapest candidate, so that the cheapest trains to the
same rungs as by epochs); still no trial is judged before ``min_epochs`` epochs, and a study
resumed without a budget never compares trials judged in different units.
"""

from __future__ import annotations

import copy
import math
from typing import Any, cast

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from selector.records import CELLS
from selector.search.state import trial_attrs
from selector.search.study import cell_of

RESOLUTION = 100  # steps per unit of seconds: rungs at a hundredth of a unit


class _CellStorage:
    """A study storage that lists only one cell's trials judged in ``unit`` (None: epochs);
    everything else goes through."""

    def __init__(self, storage: Any, cell: str, unit: float | None) -> None:
        self._storage = storage
        self._cell = cell
        self._unit = unit

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Any = None) -> list[FrozenTrial]:
        trials = self._storage.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return [t for t in trials if cell_of(t) == self._cell
                and trial_attrs(t).rung_unit_seconds == self._unit]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


class CellPruner(optuna.pruners.BasePruner):
    """Hyperband run separately for each cell; twins protected (see the module). Its resource
    is epochs, or with ``unit``, seconds trained in units of ``unit`` seconds (then no trial
    is judged before ``min_epochs`` epochs)."""

    def __init__(self, *, min_resource: int, max_resource: int, reduction_factor: int = 3,
                 unit: float | None = None, min_epochs: int = 1) -> None:
        if not 1 <= min_resource <= max_resource:
            raise ValueError(f"need 1 <= min_resource <= max_resource; got {min_resource} and "
                             f"{max_resource}")
        if unit is not None and not (math.isfinite(unit) and unit > 0):
            raise ValueError(f"unit must be a positive number of seconds; got {unit}")
        self.unit = unit
        self._min_epochs = min_epochs
        self._pruners = {cell: optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=max_resource,
            reduction_factor=reduction_factor) for cell in CELLS}

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        cell = cell_of(trial)
        if cell not in self._pruners:
            return False
        judged = trial
        if self.unit is not None:
            if len(trial.intermediate_values) < self._min_epochs:
                return False
            judged = _in_seconds(trial, self.unit)
        view = optuna.Study(study_name=study.study_name,
                            storage=cast(BaseStorage, _CellStorage(study._storage, cell,
                                                                   self.unit)),
                            sampler=study.sampler, pruner=self)
        prune = self._pruners[cell].prune(view, judged)  # (also records the trial's rung values)
        return prune and not self._protected(study, trial)

    @staticmethod
    def _protected(study: optuna.Study, trial: FrozenTrial) -> bool:
        """A twin that has not yet read as many training sequences as the trial it twins
        (as many epochs, where either's epoch size is not on record)."""
        attrs = trial_attrs(trial)
        if attrs.twin_of is None or trial.last_step is None:
            return False
        twinned = study._storage.get_trial(
            study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, attrs.twin_of))
        reached = twinned.last_step if twinned.state != TrialState.RUNNING else None
        if reached is None:
            return False
        mine, theirs = attrs.epoch_sequences, trial_attrs(twinned).epoch_sequences
        if mine is None or theirs is None:
            return trial.last_step < reached
        return (trial.last_step + 1) * mine < (reached + 1) * theirs


def _in_seconds(trial: FrozenTrial, unit: float) -> FrozenTrial:
    """``trial`` with its reports stepped by seconds trained to each (`RESOLUTION` steps per
    ``unit`` seconds) instead of by epoch; its stored curves give the seconds."""
    elapsed, steps, last = 0.0, {}, -1
    curves = trial_attrs(trial).curves
    for epoch, value in sorted(trial.intermediate_values.items()):
        if epoch < len(curves):
            elapsed += curves[epoch]["train_seconds"] + curves[epoch].get("val_seconds", 0.0)
        last = max(last + 1, round(RESOLUTION * elapsed / unit))
        steps[last] = value
    view = copy.copy(trial)
    view.intermediate_values = steps
    return view


def make_pruner(max_epochs: int, min_epochs: int, unit: float | None = None
                ) -> optuna.pruners.BasePruner:
    """Hyperband per cell over epochs, or with ``unit``, over seconds trained (see the
    module); no pruning before ``min_epochs`` (or the last epoch)."""
    least = min(min_epochs, max_epochs)
    if unit is None:
        return CellPruner(min_resource=least, max_resource=max_epochs, reduction_factor=3)
    return CellPruner(min_resource=RESOLUTION * least, max_resource=RESOLUTION * max_epochs,
                      reduction_factor=3, unit=unit, min_epochs=least)
