"""The Optuna study: sampler, pruner, the trial budget, fairness between cells, and workers.

Fairness: a recommendation is only credible if both cells got a comparable search effort, so
(1) when a trial becomes its cell's best, its twin (same hyperparameters, other cell) is
enqueued, (2) whenever one cell is ahead in trials that trained (rejected and failed ones are
no effort), the next trial is given to the other, and (3) pruning compares a trial only with
its own cell's (`selector.search.pruning`). The sampler still chooses the cell whenever the counts
are level.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, cast

import optuna
from optuna.trial import FrozenTrial, TrialState

from selector.choices import Direction, other_cell, sign
from selector.errors import SelectorError, causes, did_you_mean, param
from selector.records import CELLS, CellResult, SearchSummary
from selector.search.state import TrialAttrs, record_study, study_state, trial_attrs
from selector.search.storage import StudyLock, StudyStorage
from selector.urls import mask_url

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def make_sampler(seed: int, n_startup_trials: int = 5) -> optuna.samplers.BaseSampler:
    """Seeded multivariate TPE; ``group`` handles conditional parameters such as dropout."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True, n_startup_trials=n_startup_trials)


def identity_text(field: str) -> str:
    """What each part of a study's identity (`StudyState.identity`) is, in words."""
    return {"task": "task", "space": "search space",
            "data_digest": f"data (the file's content, the data options and {param('seed')})",
            }[field]


def open_study(*, storage: StudyStorage, study_name: str, directions: Sequence[Direction],
               identity: dict[str, str], sampler: optuna.samplers.BaseSampler,
               pruner: optuna.pruners.BasePruner, create: bool = True,
               settings: dict[str, Any] | None = None) -> optuna.Study:
    """Create the study, or resume it if it exists and was made for the same data and space.

    ``create=False`` (a worker joining) requires the study to exist: workers never create one,
    since two doing so at once can collide. ``identity`` and ``settings`` are fields of
    `StudyState`, stored on the study; a study of a newer state schema is refused.
    """
    if create:
        study = optuna.create_study(storage=storage, study_name=study_name,
                                    directions=directions, sampler=sampler, pruner=pruner,
                                    load_if_exists=True)
    else:
        study = load_existing(storage, study_name, sampler=sampler, pruner=pruner)
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise SelectorError(f"study '{study_name}' exists with other objectives; choose another "
                            f"{param('study_name')} or run it with the same {param('objective')}.")
    stored = study_state(study)
    for key, value in identity.items():
        before = getattr(stored, key)
        if before is not None and before != value:
            raise SelectorError(
                f"study '{study_name}' was created for another {identity_text(key)}: "
                f"{before!r}, here {value!r}. Resume it with the same data, options and "
                f"space, or choose another {param('study_name')}.")
    record_study(study, **identity, **(settings or {}))
    if stored.uid is None:
        with StudyLock(storage, study_name):  # one id, even if several processes open it now
            if study_state(study).uid is None:
                record_study(study, uid=uuid.uuid4().hex)
    return study


def load_existing(storage: StudyStorage, study_name: str, *,
                  sampler: optuna.samplers.BaseSampler | None = None,
                  pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Load a study that must exist; the error lists the studies there are."""
    try:
        return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler,
                                 pruner=pruner)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise SelectorError(f"no study '{study_name}' in {mask_url(storage.url)}."
                            f"{did_you_mean(study_name, names)} Studies: "
                            f"{', '.join(names) or 'none'}.") from None


def cell_of(trial: FrozenTrial) -> str | None:
    """The cell of a trial in any state, including enqueued trials that have not started."""
    return (trial.params.get("cell") or trial_attrs(trial).cell
            or trial.system_attrs.get("fixed_params", {}).get("cell"))


class CellFairness:
    """Study callback: twins of new per-cell bests, and balanced trial counts per cell."""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        if trial.state == TrialState.COMPLETE and len(study.directions) == 1:
            cell = trial.params["cell"]
            if best_by_cell(study, trials)[cell].number == trial.number:
                study.enqueue_trial({**trial.params, "cell": other_cell(cell)}, skip_if_exists=True,
                                    user_attrs=TrialAttrs(twin_of=trial.number).to_attrs())
                trials = study.get_trials(deepcopy=False)
        counts = Counter(cell_of(t) for t in trials if _trains(t))
        waiting = Counter(cell_of(t) for t in trials if t.state == TrialState.WAITING)
        ahead, behind = sorted(CELLS, key=lambda c: counts[c], reverse=True)
        if counts[ahead] > counts[behind] and not waiting[behind]:
            study.enqueue_trial({"cell": behind},
                                user_attrs=TrialAttrs(balancing=True).to_attrs())


def _trains(trial: FrozenTrial) -> bool:
    """Whether a trial is effort: it trained, trains, or will; not rejected untrained, not failed."""
    return trial.state != TrialState.FAIL and not trial_attrs(trial).rejected




def direction_of(study: optuna.Study) -> Direction:
    """Whether the study's first objective (the validation score) is maximised or minimised."""
    return cast(Direction, study.directions[0].name.lower())


def best_by_cell(study: optuna.Study,
                 trials: Sequence[FrozenTrial] | None = None) -> dict[str, FrozenTrial]:
    """Each cell's best complete trial by the first objective (the validation score)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    better = sign(direction_of(study))
    best: dict[str, FrozenTrial] = {}
    for t in trials:
        cell = cell_of(t)
        if t.state == TrialState.COMPLETE and cell is not None and (
                cell not in best or better * t.values[0] > better * best[cell].values[0]):
            best[cell] = t
    return best


def counted_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def _tally(study: optuna.Study) -> tuple[int, int]:
    """(complete + pruned, running) trials, read fresh from the storage."""
    trials = study.get_trials(deepcopy=False, states=(*COUNTED, TrialState.RUNNING))
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    return len(trials) - running, running


def _fail_stale_trials(study: optuna.Study) -> None:
    """Fail (and queue a retry of) each running trial whose worker stopped sending heartbeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def optimize(study: optuna.Study, objective: Callable[[optuna.Trial], Any], *, n_trials: int,
             timeout: float | None, lock: StudyLock, callbacks: Sequence[Callable[..., None]] = (),
             catch: tuple[type[Exception], ...] = (),
             idle: Callable[[optuna.Study], None] | None = None,
             keep_going: Callable[[optuna.Study], bool] | None = None, poll: float = 2.0) -> None:
    """Run trials until the study holds ``n_trials`` complete or pruned trials and none is
    running (or until ``timeout`` s have passed; a trial that has started is finished).

    The budget is global and strict: every worker, on any machine, checks under the study's
    ``lock`` that complete + pruned + running trials are below ``n_trials`` and starts its
    trial before the next worker looks. Failed trials do not count, but one call starts at most
    as many trials as were missing when it began. A trial whose worker died is failed once its
    heartbeats stop, and retried. While the budget is taken by trials that
    are still running, a worker waits (calling ``idle``) for them to finish, or to go stale.
    ``keep_going(study)`` returning False stops it before the next trial (a time budget).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    attempts = n_trials - counted_trials(study)  # failing trials must not loop forever
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return
        if keep_going is not None and not keep_going(study):
            return
        with lock:
            counted, running = _tally(study)
            if (counted >= n_trials and not running) or (attempts <= 0 and not running):
                return
            if counted + running < n_trials and attempts > 0:
                attempts -= 1
                _run_one(study, objective, lock, callbacks, catch)  # fails stale ones first
                continue
        _fail_stale_trials(study)  # what holds the budget may be a dead worker's trial
        if idle is not None:
            idle(study)
        time.sleep(poll)


def _run_one(study: optuna.Study, objective: Callable[[optuna.Trial], Any], lock: StudyLock,
             callbacks: Sequence[Callable[..., None]], catch: tuple[type[Exception], ...]) -> None:
    """One trial, with Optuna's heartbeat; the lock is released as soon as the trial exists."""

    def started(trial: optuna.Trial) -> Any:
        lock.release()
        return objective(trial)

    try:
        study.optimize(started, n_trials=1, catch=catch, callbacks=[CellFairness(), *callbacks],
                       gc_after_trial=False, show_progress_bar=False)
    except Exception as exc:
        # The trial was finished by someone else while it ran: failed as stale by another
        # worker (its heartbeats were late), or recorded by a worker that started the same
        # enqueued trial (SQLite cannot lock rows). Optuna refuses our tell (and may then trip
        # over its own bookkeeping): the trial is recorded once, nothing is lost; carry on.
        if _refused_tell(exc):
            return
        cause = _selector_error(exc)
        if cause is not None:  # the storage could not record the trial (say, a full disk):
            raise cause from None  # Optuna's own bookkeeping then fails with an assertion
        raise


def _selector_error(exc: BaseException) -> SelectorError | None:
    return next((seen for seen in causes(exc) if isinstance(seen, SelectorError)), None)


def _refused_tell(exc: BaseException) -> bool:
    return any((isinstance(seen, ValueError) and str(seen).startswith("Cannot tell a"))
               or isinstance(seen, optuna.exceptions.UpdateFinishedTrialError)
               for seen in causes(exc))


def spawn_workers(target: Callable[..., None], args: tuple[Any, ...],
                  jobs: int) -> list[multiprocessing.process.BaseProcess]:
    """Start ``jobs`` worker processes (spawned: safe with torch and SQLite connections)."""
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = [
        context.Process(target=target, args=(*args, index), daemon=False) for index in range(jobs)]
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
        attrs = {t.number: trial_attrs(t) for t in mine}
        rejected = sum(1 for a in attrs.values() if a.rejected)
        best = bests.get(cell)
        chosen = attrs[best.number] if best else None
        cells.append(CellResult(
            cell=cell, trials=len(mine), complete=len(complete),
            pruned=sum(1 for t in mine if t.state == TrialState.PRUNED) - rejected,
            rejected=rejected, failed=sum(1 for t in mine if t.state == TrialState.FAIL),
            epochs=sum(len(a.curves) for a in attrs.values()),
            train_seconds=round(sum(e["train_seconds"] for a in attrs.values()
                                    for e in a.curves), 3),
            best_trial=best.number if best else None,
            best_score=(best.values[0] if best else None),
            best_config=chosen.model_config() if chosen else None,
            best_cost=chosen.cost_record() if chosen else None,
            setup_seconds=round(sum(a.setup_seconds for a in attrs.values()), 3),
        ))
    direction = direction_of(study)
    state = study_state(study)
    pareto = tuple(t.number for t in study.best_trials) if len(study.directions) > 1 else ()
    return SearchSummary(study_name=study.study_name, storage=mask_url(storage_url),
                         task=state.task or "", score_name=score_name,  # type: ignore[arg-type]
                         direction=direction, n_trials=counted_trials(study),
                         cells=tuple(cells), pareto_trials=pareto,
                         space=state.space or "", space_reason=state.space_reason)
