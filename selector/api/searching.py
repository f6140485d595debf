"""The search: create or resume the study, run its trials here or in workers, log to MLflow."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import optuna

from selector.api.requests import SearchRequest
from selector.api.scope import scoped
from selector.api.trials import (
    ProgressHook,
    cheapest_pair,
    check_places,
    keep_rung_unit,
    open_for,
    run_trials,
)
from selector.api.workers import run_workers
from selector.choices import Cell
from selector.data import SequenceData, load_dataset, profile_dataset
from selector.records import DataProfile, SearchSummary, TrackingSummary
from selector.search.schedule import SearchBudget, start_cheap
from selector.search.space import SearchSpace
from selector.search.state import study_state
from selector.search.study import (
    counted_trials,
    summarize,
)
from selector.tracking import (
    Notify,
    StudyTracker,
)
from selector.training.fitting import KeptModel
from selector.training.system import score_name
from selector.urls import mask_url


@dataclass(frozen=True)
class Searched:
    """The search stage's result: its summary, the study, and the models this process kept
    for the comparison to reuse (`selector.comparison.runs.compare`)."""

    summary: SearchSummary
    study: optuna.Study
    kept: dict[Cell, KeptModel]


@dataclass(frozen=True)
class PreparedStudy:
    """A study ready for workers: where it is, its budget, and its MLflow run."""

    study_name: str
    storage: str  # masked
    n_trials: int
    counted_trials: int  # complete + pruned already (a prepared study may be resumed)
    data_digest: str
    experiment_name: str | None
    parent_run_id: str | None


@scoped
def prepare_study(request: SearchRequest) -> PreparedStudy:
    """Create the study, its settings and its MLflow run, once, before any worker starts.

    Workers (`search(joined_request(...))`, the CLI's ``selector worker``) then join it from
    any machine. Running it again is safe: a study made for the same data and space is kept,
    with its budget set to ``request.n_trials``. Raises `DataError` for unusable data, and
    `SelectorError` when the study exists for other data or space, or the storage or MLflow
    store cannot be used.
    """
    data = load_dataset(request.data, request.data_options)
    profile = profile_dataset(data)
    space = request.load_space(data, profile)
    check_places(request)
    study, _ = open_for(request, data, space)
    parent = None
    if request.tracking_uri:
        tracker = StudyTracker(request.tracking_uri, invocation="create-study",
                               experiment_name=request.resolved_experiment_name())
        parent = tracker.start(study, data, profile, space, score_name=score_name(data.task),
                               settings=request.settings(), status="SCHEDULED").parent_run_id
    return PreparedStudy(
        study_name=study.study_name, storage=mask_url(request.storage),
        n_trials=request.n_trials, counted_trials=counted_trials(study),
        data_digest=str(study_state(study).data_digest),
        experiment_name=request.resolved_experiment_name() if request.tracking_uri else None,
        parent_run_id=parent)


@scoped
def search(request: SearchRequest, *, progress: ProgressHook | None = None,
           notify: Notify | None = None) -> SearchSummary:
    """Run (or resume) the study, log it to MLflow, then summarise it per cell.

    Completed trials live in the study storage: an interrupted search loses nothing that
    finished, and re-running the same request resumes where it stopped. ``notify`` receives
    warnings that must not stop the search (the tracking server went away). Raises
    `DataError` for unusable data, and `SelectorError` for other problems a user can fix
    (the storage, the space, a study made for other data, the MLflow store).
    """
    data = load_dataset(request.data, request.data_options)
    profile = profile_dataset(data)
    space = request.load_space(data, profile)
    check_places(request)
    return search_study(request, data, profile, space, progress, notify).summary


def search_study(request: SearchRequest, data: SequenceData, profile: DataProfile,
                 space: SearchSpace, progress: ProgressHook | None, notify: Notify | None,
                 budget: SearchBudget | None = None) -> Searched:
    """The search stage: run (or resume) the study's trials, within ``budget`` if given, and
    log them; returns the summary, the study, and the models kept for reuse."""
    study, lock = open_for(request, data, space)
    if budget is not None:
        start_cheap(study, space, data)
        pair = cheapest_pair(request, data, space)
        keep_rung_unit(study, pair)
        short = pair.floor(budget.work.left())
        if short:
            (notify or logging.getLogger(__name__).warning)(short)
    invocation = uuid.uuid4().hex[:12]
    tracker, target = None, None
    if request.tracking_uri:
        tracker = StudyTracker(request.tracking_uri, invocation=invocation, notify=notify,
                               experiment_name=request.resolved_experiment_name())
        target = tracker.start(study, data, profile, space, score_name=score_name(data.task),
                               settings=request.settings())
    callbacks: list[Callable[..., None]] = [lambda s, _t: progress(s)] if progress else []
    callbacks += [tracker] if tracker else []
    if progress:
        progress(study)
    interrupted = True
    kept: dict[Cell, KeptModel] = {}
    try:
        if request.jobs <= 1:
            kept = run_trials(request, data, space, study, lock, callbacks, invocation,
                              progress, budget)
        else:
            polls = ([progress] if progress else []) + ([tracker.poll] if tracker else [])
            joined = replace(request, joining=request.stored_settings(space))
            run_workers(joined, study, invocation, target, polls, budget)
        interrupted = False
    finally:
        if progress:
            progress(study)
        summary = summarize(study, storage_url=request.storage, score_name=score_name(data.task))
        tracking: TrackingSummary | None = None
        if tracker:
            tracking = tracker.finish(study, summary, interrupted=interrupted)
    return Searched(replace(summary, tracking=tracking), study, kept)
