"""The library API behind the CLI: run a search from Python exactly as `selector` does."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import torch

from selector.data import DataOptions, SequenceData, load_dataset
from selector.data.examples import is_example
from selector.objective import Budgets, Objective, TrialFailed
from selector.records import SearchSummary
from selector.space import SearchSpace, load_space
from selector.study import (
    DEFAULT_STORAGE,
    make_pruner,
    make_sampler,
    open_study,
    optimize,
    spawn_workers,
    storage_for,
    summarize,
    threads_per_worker,
)
from selector.system import score_direction, score_name

ProgressHook = Callable[[optuna.Study], None]


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search needs; the defaults serve one machine with zero set-up."""

    data: str
    data_options: DataOptions = field(default_factory=DataOptions)
    space: str = "default"
    study_name: str | None = None
    storage: str = DEFAULT_STORAGE
    n_trials: int = 20
    timeout: float | None = None
    jobs: int = 1
    seed: int = 0
    budgets: Budgets = field(default_factory=Budgets)
    multi_objective: bool = False
    accelerator: str = "auto"

    def resolved_study_name(self) -> str:
        if self.study_name:
            return self.study_name
        stem = self.data.split(":", 1)[1].split("?")[0] if is_example(self.data) else \
            Path(self.data).name.split(".")[0]
        return f"selector-{stem}"


def quiet_libraries() -> None:
    """Keep Optuna's and Lightning's per-trial chatter off the user's terminal."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial states and reasons live in storage
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")  # lightning's own use of a torch API
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _identity(request: SearchRequest, data: SequenceData, space: SearchSpace) -> dict[str, str]:
    return {"selector.task": data.task, "selector.data": request.data,
            "selector.space": space.name}


def _directions(data: SequenceData, multi_objective: bool) -> list[str]:
    score = score_direction(data.task)
    return [score, "minimize"] if multi_objective else [score]


def _open(request: SearchRequest, data: SequenceData, space: SearchSpace) -> optuna.Study:
    return open_study(
        storage=storage_for(request.storage), study_name=request.resolved_study_name(),
        directions=_directions(data, request.multi_objective),
        identity=_identity(request, data, space), sampler=make_sampler(request.seed),
        pruner=make_pruner(space.training.max_epochs, space.training.min_epochs_before_pruning),
    )


def _run_trials(request: SearchRequest, data: SequenceData, space: SearchSpace,
                study: optuna.Study, callbacks: list[Callable[..., None]]) -> None:
    objective = Objective(data, space, budgets=request.budgets, seed=request.seed,
                          multi_objective=request.multi_objective,
                          accelerator=request.accelerator)
    optimize(study, objective, n_trials=request.n_trials, timeout=request.timeout,
             callbacks=callbacks, catch=(TrialFailed,))


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so the running trial is closed and finished ones are kept."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def _worker(request: SearchRequest, index: int) -> None:
    """One of ``--jobs`` processes: its own data, its share of the cores, the shared study."""
    interrupt_on_sigterm()
    quiet_libraries()
    torch.set_num_threads(threads_per_worker(request.jobs))
    data = load_dataset(request.data, request.data_options)
    space = load_space(request.space)
    study = _open(request, data, space)
    study.sampler = make_sampler(request.seed + 1000 * index)
    with contextlib.suppress(KeyboardInterrupt):  # Optuna has marked the trial failed already
        _run_trials(request, data, space, study, [])


def search(request: SearchRequest, *, progress: ProgressHook | None = None) -> SearchSummary:
    """Run (or resume) the study, then summarise it per cell.

    Completed trials live in the study storage: an interrupted search loses nothing that
    finished, and re-running the same request resumes where it stopped.
    """
    quiet_libraries()
    data = load_dataset(request.data, request.data_options)
    space = load_space(request.space)
    study = _open(request, data, space)
    callbacks = [lambda s, _t: progress(s)] if progress else []
    if progress:
        progress(study)
    if request.jobs <= 1:
        _run_trials(request, data, space, study, callbacks)
    else:
        workers = spawn_workers(_worker, (request,), request.jobs)
        try:
            while any(w.is_alive() for w in workers):
                for w in workers:
                    w.join(timeout=0.5)
                if progress:
                    progress(study)
        finally:  # on an interrupt, let each worker close its running trial first
            for w in workers:
                if w.is_alive() and w.pid is not None:
                    os.kill(w.pid, signal.SIGINT)
            for w in workers:
                w.join(timeout=30)
                if w.is_alive():
                    w.terminate()
    if progress:
        progress(study)
    return summarize(study, storage_url=request.storage, score_name=score_name(data.task))
