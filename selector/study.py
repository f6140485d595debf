"""The Optuna study: storage, sampler, pruner, fairness between cells, and parallel workers.

Fairness: a recommendation is only credible if both cells got a comparable search effort, so
(1) when a trial becomes its cell's best, its twin (same hyperparameters, other cell) is
enqueued, and (2) whenever one cell is ahead in trial count, the next trial is given to the
other. The sampler still chooses the cell whenever the counts are level.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from selector.errors import SelectorError
from selector.records import CELLS, CellResult, SearchSummary
from selector.urls import mask_url

DEFAULT_STORAGE = "sqlite:///selector.db"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
IDENTITY_KEYS = ("selector.task", "selector.data", "selector.space")


def storage_for(url: str) -> RDBStorage:
    """An RDB storage; SQLite gets a generous lock timeout so parallel workers wait, not fail."""
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    try:
        return RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:  # SQLAlchemy/driver errors: bad URL, unreachable server, foreign DB
        raise SelectorError(f"cannot open the study storage {mask_url(url)}: "
                            f"{mask_url(str(exc).splitlines()[0])}") from None


def make_sampler(seed: int, n_startup_trials: int = 5) -> optuna.samplers.BaseSampler:
    """Seeded multivariate TPE; ``group`` handles conditional parameters such as dropout."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True, n_startup_trials=n_startup_trials)


def make_pruner(max_epochs: int, min_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.HyperbandPruner(min_resource=min_epochs, max_resource=max_epochs,
                                          reduction_factor=3)


def open_study(*, storage: RDBStorage, study_name: str, directions: Sequence[str],
               identity: dict[str, str], sampler: optuna.samplers.BaseSampler,
               pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """Create the study, or resume it if it exists and was made for the same data and space."""
    study = optuna.create_study(storage=storage, study_name=study_name, directions=directions,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise SelectorError(f"study '{study_name}' exists with other objectives; choose another "
                            "--study-name or run it with the same --objective.")
    stored = study.user_attrs
    for key, value in identity.items():
        if key in stored and stored[key] != value:
            raise SelectorError(
                f"study '{study_name}' was created for {key.split('.')[1]} {stored[key]!r}, not "
                f"{value!r}. Resume it with the same data and space, or choose another "
                "--study-name.")
        if key not in stored:
            study.set_user_attr(key, value)
    return study


def cell_of(trial: FrozenTrial) -> str | None:
    """The cell of a trial in any state, including enqueued trials that have not started."""
    return (trial.params.get("cell") or trial.user_attrs.get("cell")
            or trial.system_attrs.get("fixed_params", {}).get("cell"))


class CellFairness:
    """Study callback: twins of new per-cell bests, and balanced trial counts per cell."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        if trial.state == TrialState.COMPLETE and len(study.directions) == 1:
            cell = trial.params["cell"]
            if best_by_cell(study, trials)[cell].number == trial.number:
                study.enqueue_trial({**trial.params, "cell": _other(cell)}, skip_if_exists=True,
                                    user_attrs={"twin_of": trial.number})
                trials = study.get_trials(deepcopy=False)
        counts = Counter(cell_of(t) for t in trials)
        waiting = Counter(cell_of(t) for t in trials if t.state == TrialState.WAITING)
        ahead, behind = sorted(CELLS, key=lambda c: counts[c], reverse=True)
        if counts[ahead] > counts[behind] and not waiting[behind]:
            study.enqueue_trial({"cell": behind}, user_attrs={"balancing": True})


def _other(cell: str) -> str:
    return "lstm" if cell == "gru" else "gru"


def best_by_cell(study: optuna.Study,
                 trials: Sequence[FrozenTrial] | None = None) -> dict[str, FrozenTrial]:
    """Each cell's best complete trial by the first objective (the validation score)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    best: dict[str, FrozenTrial] = {}
    for t in trials:
        cell = cell_of(t)
        if t.state == TrialState.COMPLETE and cell is not None and (
                cell not in best or sign * t.values[0] > sign * best[cell].values[0]):
            best[cell] = t
    return best


def counted_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def optimize(study: optuna.Study, objective: Callable[[optuna.Trial], Any], *, n_trials: int,
             timeout: float | None, callbacks: Sequence[Callable[..., None]] = (),
             catch: tuple[type[Exception], ...] = ()) -> None:
    """Run trials until the study holds ``n_trials`` complete or pruned trials (or timeout).

    The budget is global: trials already in the study, from earlier runs or other workers,
    count. Failed trials do not count, but each run tries at most the missing number.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while (missing := n_trials - counted_trials(study)) > 0:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        try:
            study.optimize(objective, n_trials=missing, timeout=left, catch=catch,
                           callbacks=[MaxTrialsCallback(n_trials, states=COUNTED), CellFairness(),
                                      *callbacks], gc_after_trial=False, show_progress_bar=False)
            return
        except ValueError as exc:
            # SQLite cannot lock rows, so two workers may start the same enqueued trial; the
            # first to finish records it and the other's tell is refused. Nothing is lost or
            # counted twice: carry on with the budget that is left.
            if not str(exc).startswith("Cannot tell a"):
                raise


def threads_per_worker(jobs: int) -> int:
    """Torch threads for each of ``jobs`` processes so they never oversubscribe the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // jobs)


def spawn_workers(target: Callable[..., None], args: tuple[Any, ...],
                  jobs: int) -> list[multiprocessing.process.BaseProcess]:
    """Start ``jobs`` worker processes (spawned: safe with torch and SQLite connections)."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=(*args, index), daemon=False)
                 for index in range(jobs)]
    for process in processes:
        process.start()
    return processes


def summarize(study: optuna.Study, *, storage_url: str, score_name: str) -> SearchSummary:
    """Per-cell effort and best candidates, read back from the storage."""
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    bests = best_by_cell(study, trials)
    cells = []
    for cell in CELLS:
        mine = [t for t in trials if cell_of(t) == cell]
        complete = [t for t in mine if t.state == TrialState.COMPLETE]
        rejected = sum(1 for t in mine if t.user_attrs.get("rejected"))
        best = bests.get(cell)
        cells.append(CellResult(
            cell=cell, trials=len(mine), complete=len(complete),
            pruned=sum(1 for t in mine if t.state == TrialState.PRUNED) - rejected,
            rejected=rejected, failed=sum(1 for t in mine if t.state == TrialState.FAIL),
            epochs=sum(len(t.user_attrs.get("curves", [])) for t in mine),
            train_seconds=round(sum(e["train_seconds"] for t in mine
                                    for e in t.user_attrs.get("curves", [])), 3),
            best_trial=best.number if best else None,
            best_score=(best.values[0] if best else None),
            best_config=best.user_attrs.get("config") if best else None,
            best_cost=best.user_attrs.get("cost") if best else None,
        ))
    direction = study.directions[0].name.lower()
    pareto = tuple(t.number for t in study.best_trials) if len(study.directions) > 1 else ()
    return SearchSummary(study_name=study.study_name, storage=mask_url(storage_url),
                         task=study.user_attrs.get("selector.task", ""), score_name=score_name,
                         direction=direction, n_trials=counted_trials(study),
                         cells=tuple(cells), pareto_trials=pareto)
