"""Pruning that is fair between the cells: Hyperband per cell, and twins that get their chance.

Optuna's `HyperbandPruner` compares a trial with every trial of its bracket. In a study whose
trials are half GRU and half LSTM, that cuts the cell that starts slower for starting slower,
and a twin (the other cell at a cell's best hyperparameters, queued to compare like with like)
is pruned like any trial. `CellPruner` runs one Hyperband per cell over a view of the study
that holds only that cell's trials, and lets a twin run at least as many epochs as the trial it
twins reached before Hyperband may stop it.
"""

from __future__ import annotations

from typing import Any, cast

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from selector.records import CELLS
from selector.search.state import trial_attrs
from selector.search.study import cell_of


class _CellStorage:
    """A study storage that lists only one cell's trials; everything else goes through."""

    def __init__(self, storage: Any, cell: str) -> None:
        self._storage = storage
        self._cell = cell

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Any = None) -> list[FrozenTrial]:
        trials = self._storage.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return [t for t in trials if cell_of(t) == self._cell]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


class CellPruner(optuna.pruners.BasePruner):
    """Hyperband over epochs, run separately for each cell; twins protected (see the module)."""

    def __init__(self, *, min_resource: int, max_resource: int, reduction_factor: int = 3) -> None:
        if not 1 <= min_resource <= max_resource:
            raise ValueError(f"need 1 <= min_resource <= max_resource; got {min_resource} and "
                             f"{max_resource}")
        self._pruners = {cell: optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=max_resource,
            reduction_factor=reduction_factor) for cell in CELLS}

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        cell = cell_of(trial)
        if cell not in self._pruners:
            return False
        view = optuna.Study(study_name=study.study_name,
                            storage=cast(BaseStorage, _CellStorage(study._storage, cell)),
                            sampler=study.sampler, pruner=self)
        prune = self._pruners[cell].prune(view, trial)  # (also records the trial's rung values)
        return prune and not self._protected(study, trial)

    @staticmethod
    def _protected(study: optuna.Study, trial: FrozenTrial) -> bool:
        """A twin that has not yet trained as many epochs as the trial it twins."""
        original = trial_attrs(trial).twin_of
        if original is None or trial.last_step is None:
            return False
        twinned = study._storage.get_trial(
            study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, original))
        reached = twinned.last_step if twinned.state != TrialState.RUNNING else None
        return reached is not None and trial.last_step < reached


def make_pruner(max_epochs: int, min_epochs: int) -> optuna.pruners.BasePruner:
    """Hyperband per cell over epochs; no pruning before ``min_epochs`` (or the last epoch)."""
    return CellPruner(min_resource=min(min_epochs, max_epochs), max_resource=max_epochs,
                      reduction_factor=3)
