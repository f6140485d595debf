"""Open a request's study and run this process's share of its trials."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna

from selector.api.requests import SearchRequest
from selector.choices import Cell, Direction
from selector.data import SequenceData, fingerprint
from selector.data.crossval import cross_validates
from selector.errors import param
from selector.files import check_writable
from selector.interrupts import INTERRUPTS
from selector.records import ModelConfig
from selector.search.costing import TrialCosting, least_useful
from selector.search.objective import Objective, TrialFailed
from selector.search.pruning import make_pruner
from selector.search.schedule import SearchBudget, SearchClock
from selector.search.space import SearchSpace
from selector.search.state import record_study, study_state
from selector.search.storage import (
    StudyLock,
    sqlite_file,
    storage_for,
)
from selector.search.study import (
    make_sampler,
    open_study,
    optimize,
)
from selector.tracking import (
    check_store_file,
    local_folders,
)
from selector.training.devices import check_accelerator
from selector.training.fidelity import Fidelity, search_fidelity
from selector.training.fitting import KeptModel, probe_for
from selector.training.system import score_direction

ProgressHook = Callable[[optuna.Study], None]


def check_places(request: SearchRequest, output: Path | None = None) -> None:
    """Fail before any work where this run cannot run or must not write: an accelerator this
    machine lacks, the SQLite study's folder, a local MLflow store (damaged or another
    program's) and its artifacts, and the output folder."""
    check_accelerator(request.accelerator)
    places: list[tuple[Path, str]] = []
    database = sqlite_file(request.storage)  # (its file is checked as it is opened)
    if database is not None:
        places.append((database.parent, "the study storage's folder"))
    if request.tracking_uri:  # connected to after the study is created: checked here
        check_store_file(request.tracking_uri)
        places += [(folder, "the MLflow store's folder")
                   for folder in local_folders(request.tracking_uri)]
    if output is not None:
        places.append((output, f"{param('output_dir')}"))
    for folder, what in places:
        check_writable(folder.expanduser(), what)


def _identity(request: SearchRequest, data: SequenceData, space: SearchSpace) -> dict[str, str]:
    return {"task": data.task, "space": space.name,
            "data_digest": fingerprint(request.data, request.data_options, data.splits)}


def _fidelity(request: SearchRequest, data: SequenceData) -> Fidelity:
    return search_fidelity(data, seed=request.seed, enabled=request.data_fidelity)


def _directions(data: SequenceData, multi_objective: bool) -> list[Direction]:
    score = score_direction(data.task)
    return [score, "minimize"] if multi_objective else [score]


def open_for(request: SearchRequest, data: SequenceData, space: SearchSpace,
          seed: int | None = None) -> tuple[optuna.Study, StudyLock]:
    """The study (created unless the request joins one) and its lock for the trial budget."""
    storage = storage_for(request.storage, stale_after=request.stale_after)
    name = request.resolved_study_name()
    study = open_study(
        storage=storage, study_name=name, directions=_directions(data, request.multi_objective),
        identity=_identity(request, data, space),
        sampler=make_sampler(request.seed if seed is None else seed),
        pruner=make_pruner(_fidelity(request, data).settings(space.training).max_epochs,
                           space.training.min_epochs_before_pruning),
        create=not request.join,
        settings=None if request.join else {"settings": request.stored_settings(space),
                                            "space_reason": space.reason})
    return study, StudyLock(storage, name)


def _costing(data: SequenceData, space: SearchSpace, fidelity: Fidelity,
             cap: Callable[[], float]) -> TrialCosting:
    settings = fidelity.settings(space.training)
    return TrialCosting(data, probe_for(data), cap,
                        epoch_sequences=fidelity.chunk or len(data.splits.train),
                        val_sequences=len(fidelity.val),
                        rung=min(settings.min_epochs_before_pruning, settings.max_epochs))


@dataclass(frozen=True)
class CheapestPair:
    """What the space's cheapest candidate costs here, in each cell (`least_useful`): the
    training seconds of the smallest useful recommendation, each cell's probed search epoch,
    and the epochs each needs before its first pruning check."""

    needed: float
    epochs: dict[Cell, float]
    rung: int

    def floor(self, left: float) -> str | None:
        """A warning, with the numbers, when ``left`` seconds of training are less than the
        smallest useful recommendation needs; else None."""
        if self.needed <= left:
            return None
        return (f"{param('budget')} leaves about {left:.0f} s for training, and the smallest "
                f"useful recommendation on this data needs about {self.needed:.0f} s: the "
                f"cheapest GRU and LSTM take about {self.epochs['gru']:.1f} and "
                f"{self.epochs['lstm']:.1f} s an epoch here, and each needs {self.rung} epochs "
                f"in the search and {self.rung} more with a second seed. Expect no "
                f"recommendation, or give a budget about {self.needed - left:.0f} s larger.")


def cheapest_pair(request: SearchRequest, data: SequenceData, space: SearchSpace
                  ) -> CheapestPair:
    """Probe the space's cheapest GRU and LSTM on ``data`` (a training step each)."""
    costing = _costing(data, space, _fidelity(request, data), cap=lambda: math.inf)
    needed, epochs = least_useful(costing, ModelConfig(**space.cheapest(
        text=data.is_text, lookbacks=data.lookbacks)))
    return CheapestPair(needed, epochs, costing.rung)


def keep_rung_unit(study: optuna.Study, pair: CheapestPair) -> None:
    """A budgeted study prunes on seconds trained, in units of the slower cell's cheapest
    epoch (`selector.search.pruning`): set once, so that resumes and workers judge alike."""
    if study_state(study).rung_unit is None:
        record_study(study, rung_unit=max(pair.epochs.values()))


def run_trials(request: SearchRequest, data: SequenceData, space: SearchSpace,
                study: optuna.Study, lock: StudyLock, callbacks: Sequence[Callable[..., None]],
                invocation: str, progress: ProgressHook | None = None,
                budget: SearchBudget | None = None) -> dict[Cell, KeptModel]:
    """Run this process's trials, within ``budget`` if given; returns the models it kept for
    reuse (`Objective.kept`)."""
    clock = None if budget is None else SearchClock.starting(budget, data)
    fidelity = _fidelity(request, data)
    unit = None if clock is None else study_state(study).rung_unit
    if unit is not None:
        settings = fidelity.settings(space.training)
        study.pruner = make_pruner(settings.max_epochs, settings.min_epochs_before_pruning, unit)
    objective = Objective(data, space, budgets=request.budgets, seed=request.seed,
                          multi_objective=request.multi_objective,
                          accelerator=request.accelerator, invocation=invocation,
                          deadline=None if clock is None else
                          functools.partial(clock.training_deadline, study),
                          reusable=clock is not None and not cross_validates(data),
                          fidelity=fidelity,
                          costing=None if clock is None else _costing(data, space, fidelity,
                                                                      clock.trial_cap),
                          rung_unit=unit)

    def idle(waiting: optuna.Study) -> None:  # other workers' trials hold the rest of the budget
        if progress:
            progress(waiting)
        INTERRUPTS.checkpoint()

    optimize(study, objective, n_trials=request.n_trials, timeout=request.timeout, lock=lock,
             callbacks=[*callbacks, INTERRUPTS.checkpoint], catch=(TrialFailed,), idle=idle,
             keep_going=None if clock is None else clock.keep_going)
    return objective.kept
