"""The worker processes of ``jobs > 1``: each runs its own trials of the shared study."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import optuna
import torch

from selector.api.requests import SearchRequest
from selector.api.scope import library_scope
from selector.api.trials import ProgressHook, open_for, run_trials
from selector.data import load_dataset
from selector.errors import SelectorError
from selector.interrupts import INTERRUPTS
from selector.process import (
    flush_denormals_unless_opted_out,
    reuse_freed_memory,
    threads_per_worker,
)
from selector.search.schedule import SearchBudget
from selector.search.study import spawn_workers
from selector.tracking import (
    TrackingTarget,
    TrialLogger,
)


def _worker(request: SearchRequest, invocation: str, tracking: TrackingTarget | None,
            budget: SearchBudget | None, index: int) -> None:
    """One of ``--jobs`` processes: its own data, its share of the cores, the shared study.

    It logs its own trials to MLflow; the main process logs whatever a worker could not.
    """
    INTERRUPTS.install()  # a worker process of our own: its process-wide state is ours
    reuse_freed_memory()
    flush_denormals_unless_opted_out(unset=True)
    torch.set_num_threads(threads_per_worker(request.jobs))
    try:
        data = load_dataset(request.data, request.data_options)
        space = request.load_space(data)
        study, lock = open_for(request, data, space, seed=request.seed + 1000 * index)
        callbacks = [TrialLogger(tracking, invocation)] if tracking else []
        with library_scope(), contextlib.suppress(KeyboardInterrupt):  # Optuna marked it failed
            run_trials(request, data, space, study, lock, callbacks, invocation, budget=budget)
    except SelectorError as exc:  # the main process says which worker stopped, and exits
        print(f"Error in worker process {index + 1}: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def run_workers(request: SearchRequest, study: optuna.Study, invocation: str,
                 target: TrackingTarget | None, polls: list[ProgressHook],
                 budget: SearchBudget | None = None) -> None:
    """Run ``--jobs`` worker processes on the study, within ``budget`` if given; ``polls``
    run twice a second meanwhile."""
    workers = spawn_workers(_worker, (request, invocation, target, budget), request.jobs)
    try:
        while any(w.is_alive() for w in workers):
            for w in workers:
                w.join(timeout=0.5)
            for poll in polls:
                poll(study)
            INTERRUPTS.checkpoint()  # the main process writes nothing while it waits
    finally:  # on an interrupt, let each worker close its running trial first
        for w in workers:
            if w.is_alive() and w.pid is not None:
                os.kill(w.pid, signal.SIGINT)
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed:
        error = SelectorError(f"{len(failed)} of {len(workers)} worker processes stopped with an "
                              f"error (exit codes {', '.join(map(str, failed))}); see above.")
        error.exit_code = failed[0] if failed[0] > 0 else 1
        raise error
