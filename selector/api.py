"""The library API behind the CLI: run a search from Python exactly as `selector` does."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import torch

from selector.data import DataOptions, SequenceData, load_dataset
from selector.data.examples import example_name, is_example
from selector.objective import Objective, TrialFailed
from selector.records import Budgets, SearchSummary, TrackingSummary
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
from selector.tracking import Notify, StudyTracker, TrackingTarget, TrialLogger, default_tracking_uri
from selector.urls import mask_url

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
    tracking_uri: str | None = field(default_factory=default_tracking_uri)  # None: no MLflow
    experiment_name: str | None = None  # default: the study name

    def resolved_study_name(self) -> str:
        if self.study_name:
            return self.study_name
        stem = example_name(self.data) if is_example(self.data) else \
            Path(self.data).name.split(".")[0]
        return f"selector-{stem}"

    def resolved_experiment_name(self) -> str:
        return self.experiment_name or self.resolved_study_name()

    def settings(self) -> dict[str, Any]:
        """This invocation's settings, as recorded on the study's MLflow run."""
        return {"data": self.data, "n_trials": self.n_trials, "timeout": self.timeout,
                "jobs": self.jobs, "seed": self.seed, "objective":
                "score-latency" if self.multi_objective else "score",
                "max_params": self.budgets.max_params,
                "max_latency_ms": self.budgets.max_latency_ms,
                "accelerator": self.accelerator, "storage": mask_url(self.storage)}


def quiet_libraries() -> None:
    """Keep Optuna's and Lightning's per-trial chatter off the user's terminal."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial states and reasons live in storage
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # "Creating initial tables..."
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
                study: optuna.Study, callbacks: list[Callable[..., None]], invocation: str) -> None:
    objective = Objective(data, space, budgets=request.budgets, seed=request.seed,
                          multi_objective=request.multi_objective,
                          accelerator=request.accelerator, invocation=invocation)
    optimize(study, objective, n_trials=request.n_trials, timeout=request.timeout,
             callbacks=callbacks, catch=(TrialFailed,))


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so the running trial is closed and finished ones are kept."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def _worker(request: SearchRequest, invocation: str, tracking: TrackingTarget | None,
            index: int) -> None:
    """One of ``--jobs`` processes: its own data, its share of the cores, the shared study.

    It logs its own trials to MLflow; the main process logs whatever a worker could not.
    """
    interrupt_on_sigterm()
    quiet_libraries()
    torch.set_num_threads(threads_per_worker(request.jobs))
    data = load_dataset(request.data, request.data_options)
    space = load_space(request.space)
    study = _open(request, data, space)
    study.sampler = make_sampler(request.seed + 1000 * index)
    callbacks = [TrialLogger(tracking)] if tracking else []
    with contextlib.suppress(KeyboardInterrupt):  # Optuna has marked the trial failed already
        _run_trials(request, data, space, study, callbacks, invocation)


def search(request: SearchRequest, *, progress: ProgressHook | None = None,
           notify: Notify | None = None) -> SearchSummary:
    """Run (or resume) the study, log it to MLflow, then summarise it per cell.

    Completed trials live in the study storage: an interrupted search loses nothing that
    finished, and re-running the same request resumes where it stopped. ``notify`` receives
    warnings that must not stop the search (the tracking server went away).
    """
    quiet_libraries()
    data = load_dataset(request.data, request.data_options)
    space = load_space(request.space)
    study = _open(request, data, space)
    invocation = uuid.uuid4().hex[:12]
    tracker, target = None, None
    if request.tracking_uri:
        tracker = StudyTracker(request.tracking_uri, invocation=invocation, notify=notify,
                               experiment_name=request.resolved_experiment_name())
        target = tracker.start(study, data, space, score_name=score_name(data.task),
                               settings=request.settings())
    callbacks: list[Callable[..., None]] = [lambda s, _t: progress(s)] if progress else []
    callbacks += [tracker] if tracker else []
    if progress:
        progress(study)
    interrupted = True
    try:
        if request.jobs <= 1:
            _run_trials(request, data, space, study, callbacks, invocation)
        else:
            polls = ([progress] if progress else []) + ([tracker.poll] if tracker else [])
            _run_workers(request, study, invocation, target, polls)
        interrupted = False
    finally:
        if progress:
            progress(study)
        summary = summarize(study, storage_url=request.storage, score_name=score_name(data.task))
        tracking: TrackingSummary | None = None
        if tracker:
            tracking = tracker.finish(study, summary, interrupted=interrupted)
    return replace(summary, tracking=tracking)


def _run_workers(request: SearchRequest, study: optuna.Study, invocation: str,
                 target: TrackingTarget | None, polls: list[ProgressHook]) -> None:
    """Run ``--jobs`` worker processes on the study; ``polls`` run twice a second meanwhile."""
    workers = spawn_workers(_worker, (request, invocation, target), request.jobs)
    try:
        while any(w.is_alive() for w in workers):
            for w in workers:
                w.join(timeout=0.5)
            for poll in polls:
                poll(study)
    finally:  # on an interrupt, let each worker close its running trial first
        for w in workers:
            if w.is_alive() and w.pid is not None:
                os.kill(w.pid, signal.SIGINT)
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
