"""The library API behind the CLI: run a search from Python exactly as `selector` does."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import torch

from selector.budget import handover_reserve
from selector.crossval import cross_validates
from selector.data import DataOptions, SequenceData, fingerprint, load_dataset, profile_dataset
from selector.data.examples import example_name, is_example
from selector.decision import decide
from selector.errors import SelectorError
from selector.export import PARITY_TOLERANCE, export_model
from selector.fidelity import Fidelity, search_fidelity
from selector.files import check_writable, keeping
from selector.final import (
    FINAL_ATTR,
    FinalModels,
    Step,
    compare,
    planned_runs,
    refit,
    refit_seconds,
    stored_comparison,
)
from selector.gates import evaluate
from selector.interrupts import INTERRUPTS
from selector.objective import Objective, TrialFailed
from selector.plots import write_final_plot, write_study_plots
from selector.pruning import make_pruner
from selector.records import (
    Budgets,
    DataProfile,
    FinalComparison,
    Preferences,
    Recommendation,
    Refit,
    SearchSummary,
    TrackingSummary,
)
from selector.report import (
    BASELINE_SCHEMAS,
    build_document,
    decision_document,
    report_paths,
    write_reports,
)
from selector.schedule import SearchClock
from selector.space import SearchSpace, load_space, parse_space, preset_for
from selector.storage import (
    DEFAULT_STALE_AFTER,
    DEFAULT_STORAGE,
    StudyLock,
    sqlite_file,
    storage_for,
)
from selector.study import (
    counted_trials,
    load_existing,
    make_sampler,
    open_study,
    optimize,
    spawn_workers,
    summarize,
    threads_per_worker,
)
from selector.system import score_direction, score_name
from selector.tracking import (
    ModelHandover,
    Notify,
    StudyTracker,
    TrackingTarget,
    TrialLogger,
    champion_document,
    check_store_file,
    default_tracking_uri,
    local_folders,
    log_model,
    log_verdict,
    model_record,
)
from selector.training import Fitted
from selector.urls import mask_url

ProgressHook = Callable[[optuna.Study], None]


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search needs; the defaults serve one machine with zero set-up."""

    data: str
    data_options: DataOptions = field(default_factory=DataOptions)
    space: str | None = None  # a preset or a YAML path; None: chosen from the data's profile
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
    stale_after: int = DEFAULT_STALE_AFTER  # heartbeat grace period (seconds)
    join: bool = False  # a worker: the study must exist, and its stored settings rule
    space_yaml: str | None = None  # the space itself, as stored with a study being joined
    deadline: float | None = None  # time.time() by which all training (search + final) ends
    final_seeds: int = 0  # fresh seed runs per cell the final comparison plans to train
    data_fidelity: bool = True  # big data: search epochs are chunks (`selector.fidelity`)

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

    def load_space(self, data: SequenceData) -> SearchSpace:
        """The given space, the joined study's, or the preset that fits ``data``."""
        if self.space_yaml is not None:
            return parse_space(self.space_yaml, source=f"study '{self.resolved_study_name()}'",
                               name=self.space or "stored")
        if self.space is None:
            name, reason = preset_for(profile_dataset(data))
            return replace(load_space(name), reason=reason)
        return load_space(self.space)

    def stored_settings(self, space: SearchSpace) -> dict[str, Any]:
        """What a worker needs to join the study, stored on it (see `joined_request`)."""
        return {"data": self.data, "data_options": self.data_options.to_dict(),
                "space": space.name, "space_yaml": space.text, "n_trials": self.n_trials,
                "seed": self.seed, "budgets": asdict(self.budgets),
                "multi_objective": self.multi_objective, "data_fidelity": self.data_fidelity,
                "experiment_name": self.resolved_experiment_name()}


SETTINGS_ATTR = "selector.settings"
SPACE_REASON_ATTR = "selector.space_reason"  # why the profile chose the preset (None: given)


def joined_request(study_name: str, storage: str = DEFAULT_STORAGE, *, data: str | None = None,
                   **invocation: Any) -> SearchRequest:
    """The request of an existing study, read back from it, to run more of its trials.

    ``data`` is where the study's data is on this machine (default: the path it was created
    with); it must hold the same content. ``invocation`` sets this run's own options (jobs,
    timeout, accelerator, tracking_uri, stale_after).
    """
    study = load_existing(storage_for(storage), study_name)
    stored = study.user_attrs.get(SETTINGS_ATTR)
    if stored is None:
        raise SelectorError(f"study '{study_name}' in {mask_url(storage)} was not created by "
                            "selector create-study or selector recommend; it has no settings "
                            "to join.")
    return SearchRequest(
        data=data or stored["data"], data_options=DataOptions.from_dict(stored["data_options"]),
        space=stored["space"], space_yaml=stored["space_yaml"], study_name=study_name,
        storage=storage, n_trials=stored["n_trials"], seed=stored["seed"],
        budgets=Budgets(**stored["budgets"]), multi_objective=stored["multi_objective"],
        data_fidelity=stored.get("data_fidelity", True),
        experiment_name=stored["experiment_name"], join=True, **invocation)


def quiet_libraries() -> None:
    """Keep Optuna's and Lightning's per-trial chatter off the user's terminal."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial states and reasons live in storage
    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # "Creating initial tables..."
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")  # lightning's own use of a torch API
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def check_places(request: SearchRequest, output: Path | None = None) -> None:
    """Fail before any work where this run cannot or must not write: the SQLite study's
    folder, a local MLflow store (damaged or another program's) and its artifacts, and the
    output folder."""
    places: list[tuple[Path, str]] = []
    database = sqlite_file(request.storage)  # (its file is checked as it is opened)
    if database is not None:
        places.append((database.parent, "the study storage's folder"))
    if request.tracking_uri:  # connected to after the study is created: checked here
        check_store_file(request.tracking_uri)
        places += [(folder, "the MLflow store's folder")
                   for folder in local_folders(request.tracking_uri)]
    if output is not None:
        places.append((output, "--output-dir"))
    for folder, what in places:
        check_writable(folder.expanduser(), what)


def _identity(request: SearchRequest, data: SequenceData, space: SearchSpace) -> dict[str, str]:
    return {"selector.task": data.task, "selector.space": space.name,
            "selector.data_digest": fingerprint(request.data, request.data_options, data.splits)}


def _fidelity(request: SearchRequest, data: SequenceData) -> Fidelity:
    return search_fidelity(data, seed=request.seed, enabled=request.data_fidelity)


def _directions(data: SequenceData, multi_objective: bool) -> list[str]:
    score = score_direction(data.task)
    return [score, "minimize"] if multi_objective else [score]


def _open(request: SearchRequest, data: SequenceData, space: SearchSpace,
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
        settings=None if request.join else {SETTINGS_ATTR: request.stored_settings(space),
                                            SPACE_REASON_ATTR: space.reason})
    return study, StudyLock(storage, name)


def _run_trials(request: SearchRequest, data: SequenceData, space: SearchSpace,
                study: optuna.Study, lock: StudyLock, callbacks: list[Callable[..., None]],
                invocation: str, progress: ProgressHook | None = None
                ) -> dict[str, tuple[int, Fitted]]:
    """Run this process's trials; returns the models it kept for reuse (`Objective.kept`)."""
    clock = None
    if request.deadline is not None:
        clock = SearchClock(start=time.time(), work_end=request.deadline,
                            seeds=request.final_seeds, data=data)  # shares of what is left
    objective = Objective(data, space, budgets=request.budgets, seed=request.seed,
                          multi_objective=request.multi_objective,
                          accelerator=request.accelerator, invocation=invocation,
                          deadline=None if clock is None else
                          functools.partial(clock.training_deadline, study),
                          reusable=clock is not None and not cross_validates(data),
                          fidelity=_fidelity(request, data))

    def idle(waiting: optuna.Study) -> None:  # other workers' trials hold the rest of the budget
        if progress:
            progress(waiting)
        INTERRUPTS.checkpoint()

    optimize(study, objective, n_trials=request.n_trials, timeout=request.timeout, lock=lock,
             callbacks=[*callbacks, INTERRUPTS.checkpoint], catch=(TrialFailed,), idle=idle,
             keep_going=None if clock is None else clock.keep_going)
    return objective.kept


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


def prepare_study(request: SearchRequest) -> PreparedStudy:
    """Create the study, its settings and its MLflow run, once, before any worker starts.

    Workers (`search(joined_request(...))`, the CLI's ``selector worker``) then join it from
    any machine. Running it again is safe: a study made for the same data and space is kept,
    with its budget set to ``request.n_trials``.
    """
    quiet_libraries()
    data = load_dataset(request.data, request.data_options)
    space = request.load_space(data)
    check_places(request)
    study, _ = _open(request, data, space)
    parent = None
    if request.tracking_uri:
        tracker = StudyTracker(request.tracking_uri, invocation="create-study",
                               experiment_name=request.resolved_experiment_name())
        parent = tracker.start(study, data, space, score_name=score_name(data.task),
                               settings=request.settings(), status="SCHEDULED").parent_run_id
    return PreparedStudy(
        study_name=study.study_name, storage=mask_url(request.storage),
        n_trials=request.n_trials, counted_trials=counted_trials(study),
        data_digest=study.user_attrs["selector.data_digest"],
        experiment_name=request.resolved_experiment_name() if request.tracking_uri else None,
        parent_run_id=parent)


def _worker(request: SearchRequest, invocation: str, tracking: TrackingTarget | None,
            index: int) -> None:
    """One of ``--jobs`` processes: its own data, its share of the cores, the shared study.

    It logs its own trials to MLflow; the main process logs whatever a worker could not.
    """
    INTERRUPTS.install()
    quiet_libraries()
    torch.set_num_threads(threads_per_worker(request.jobs))
    try:
        data = load_dataset(request.data, request.data_options)
        space = request.load_space(data)
        study, lock = _open(request, data, space, seed=request.seed + 1000 * index)
        callbacks = [TrialLogger(tracking, invocation)] if tracking else []
        with contextlib.suppress(KeyboardInterrupt):  # Optuna has marked the trial failed
            _run_trials(request, data, space, study, lock, callbacks, invocation)
    except SelectorError as exc:  # the main process says which worker stopped, and exits
        print(f"Error in worker process {index + 1}: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def search(request: SearchRequest, *, progress: ProgressHook | None = None,
           notify: Notify | None = None) -> SearchSummary:
    """Run (or resume) the study, log it to MLflow, then summarise it per cell.

    Completed trials live in the study storage: an interrupted search loses nothing that
    finished, and re-running the same request resumes where it stopped. ``notify`` receives
    warnings that must not stop the search (the tracking server went away).
    """
    quiet_libraries()
    data = load_dataset(request.data, request.data_options)
    space = request.load_space(data)
    check_places(request)
    return _search(request, data, space, progress, notify)[0]


def _search(request: SearchRequest, data: SequenceData, space: SearchSpace,
            progress: ProgressHook | None, notify: Notify | None
            ) -> tuple[SearchSummary, optuna.Study, dict[str, tuple[int, Fitted]]]:
    study, lock = _open(request, data, space)
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
    kept: dict[str, tuple[int, Fitted]] = {}
    try:
        if request.jobs <= 1:
            kept = _run_trials(request, data, space, study, lock, callbacks, invocation,
                               progress)
        else:
            polls = ([progress] if progress else []) + ([tracker.poll] if tracker else [])
            joined = replace(request, join=True, space=space.name, space_yaml=space.text)
            _run_workers(joined, study, invocation, target, polls)
        interrupted = False
    finally:
        if progress:
            progress(study)
        summary = summarize(study, storage_url=request.storage, score_name=score_name(data.task))
        tracking: TrackingSummary | None = None
        if tracker:
            tracking = tracker.finish(study, summary, interrupted=interrupted)
    return replace(summary, tracking=tracking), study, kept


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


# -- the recommendation ----------------------------------------------------------------------

PROFILE_ATTR = "selector.profile"
DECISION_ATTR = "selector.decision"  # the preferences and budgets of the last recommendation


@dataclass(frozen=True)
class RecommendRequest:
    """A search, then the final comparison, the decision, the reports and the model."""

    search: SearchRequest
    seeds: int = 3
    refit: bool = True  # hand over the chosen configuration refit on train + validation
    preferences: Preferences = field(default_factory=Preferences)
    output_dir: str | None = None  # default: selector-output/<study name>
    model_name: str | None = None  # registered model name; default: the study name
    register: bool = True
    budget: float | None = None  # seconds for the whole command, within budget.tolerance
    started: float | None = None  # time.time() the budget counts from (default: the call)
    baseline: str | None = None  # "champion" (the registered model's run) or a JSON report
    min_score: float | None = None  # quality gate on the recommended cell's test score
    promote: bool = False  # a gated run registers the model only with this, and gates passed

    def __post_init__(self) -> None:
        if self.seeds < 2:
            raise SelectorError(f"seeds must be at least 2 (one seed has no spread to judge a "
                                f"difference by); got {self.seeds}")

    def folder(self) -> Path:
        return Path(self.output_dir or Path("selector-output") / self.search.resolved_study_name())

    def registered_name(self) -> str:
        return self.model_name or self.search.resolved_study_name()

    @property
    def gated(self) -> bool:
        return self.baseline is not None or self.min_score is not None


@dataclass(frozen=True)
class RecommendResult:
    summary: SearchSummary
    recommendation: Recommendation
    document: dict[str, Any]  # the JSON report (schema REPORT_SCHEMA)

    @property
    def exit_code(self) -> int:
        """0, or the gates' verdict: 3 the decision changed, 4 a quality gate failed."""
        return int(self.document.get("gates", {}).get("exit_code", 0))


def recommend(request: RecommendRequest, *, progress: ProgressHook | None = None,
              notify: Notify | None = None, step: Step | None = None) -> RecommendResult:
    """Search, retrain each cell's best with k seeds, decide, report, and hand over the model.

    Within ``request.budget`` seconds if given. With gates (a baseline, a minimum score), the
    document's ``gates`` say what changed and `RecommendResult.exit_code` what CI should do; the
    model is then registered only if ``request.promote`` and the quality gates pass. ``step`` is
    called before each final training run with what it is (for a progress bar). One
    recommendation runs per study at a time: a second one is refused (`StudyBusy`).
    """
    quiet_libraries()
    notify = notify or logging.getLogger(__name__).warning
    started = request.started or time.time()
    baseline, baseline_source = _baseline(request)  # before any training: a bad one fails fast
    search_request = request.search
    data = load_dataset(search_request.data, search_request.data_options)
    work_end = measure_until = None
    if request.budget is not None:
        work_end = started + request.budget - handover_reserve(request.budget)
        measure_until = work_end + handover_reserve(request.budget) / 3
        search_request = replace(search_request, deadline=work_end,
                                 final_seeds=request.seeds - int(not cross_validates(data)))
    space = search_request.load_space(data)
    check_places(search_request, request.folder())
    with StudyLock(storage_for(search_request.storage), search_request.resolved_study_name(),
                   role="recommend", wait=False):
        summary, study, kept = _search(search_request, data, space, progress, notify)
        seeds = tuple(search_request.seed + i for i in range(request.seeds))
        refit_wanted = request.refit
        final = compare(study, data, space.training, seeds=seeds,
                        accelerator=search_request.accelerator, step=step, refit=refit_wanted,
                        deadline=work_end, measure_until=measure_until, kept=kept)
        profile = profile_dataset(data)
        study.set_user_attr(PROFILE_ATTR, profile.to_dict())
        study.set_user_attr(DECISION_ATTR, {**asdict(request.preferences),
                                            "budgets": asdict(search_request.budgets)})
        INTERRUPTS.checkpoint()  # safe points between the output steps, up to the hand-over
        rec = decide(final.comparison, profile, search_request.budgets, request.preferences)
        handed = None
        if rec.verdict is not None:
            INTERRUPTS.checkpoint()
            handed = _handed_model(request, study, final, rec.verdict, data, space, work_end,
                                   step, len(seeds))
        gates = evaluate(decision_document(rec), baseline, baseline_source=baseline_source,
                         min_score=request.min_score) if request.gated else None
        kept = (f"The search and the final comparison are kept in "
                f"{mask_url(search_request.storage)} (study '{study.study_name}'): free space "
                "and run the same command again (it resumes; the final runs are redone).")
        with keeping(kept):
            document = _hand_over(request, study, data, final, rec, profile, summary, gates,
                                  notify, handed)
    return RecommendResult(summary, rec, document)


def _hand_over(request: RecommendRequest, study: optuna.Study, data: SequenceData,
               final: FinalModels, rec: Recommendation, profile: DataProfile,
               summary: SearchSummary, gates: dict[str, Any] | None,
               notify: Notify, chosen: Fitted | None) -> dict[str, Any]:
    """The outputs of a decided study: plots, the model folder, the model ``chosen`` (the
    refit, or the best seed's) in MLflow, and the reports; returns the JSON report.
    Interrupts stop it between steps up to the hand-over."""
    search_request = request.search
    register = request.register and (gates is None or (request.promote and gates["passed"]))
    folder = request.folder()
    artifacts: dict[str, Any] = {"folder": str(folder), **report_paths(folder),
                                 "plots": _plots(study, final.comparison, folder)}
    handover = None
    INTERRUPTS.checkpoint()
    if rec.verdict is not None:
        evidence = rec.cell(rec.verdict)
        assert evidence is not None and chosen is not None
        refitted = final.comparison.refit
        exported = export_model(chosen.system, data, search_request.data_options,
                                folder / "model", meta={
                                    "cell": rec.verdict, "config": evidence.config,
                                    "search_trial": evidence.trial, "study": study.study_name,
                                    "score_name": rec.score_name,
                                    "test_score": refitted.test_score if refitted
                                    else evidence.test_mean,
                                    "trained_on": "train+val" if refitted else "train",
                                    "verdict": rec.headline, "rationale": list(rec.rationale)})
        artifacts |= {"model_dir": str(exported.folder), "torchscript": str(exported.torchscript),
                      "onnx": str(exported.onnx), "parity": exported.parity}
        if not exported.parity_ok:
            notify(f"the exported model differs from PyTorch by up to "
                   f"{max(exported.parity.values()):.2g} (tolerance {PARITY_TOLERANCE:g}).")
        handover = ModelHandover(
            folder=exported.folder, torchscript=exported.torchscript,
            description=f"{rec.headline}\n\n" + "\n".join(f"- {r}" for r in rec.rationale),
            register_as=request.registered_name() if register else None)
    INTERRUPTS.checkpoint()  # from here on, the hand-over (a few seconds) completes
    tracking = summary.tracking
    if tracking is not None and search_request.tracking_uri:
        artifacts["mlflow"] = _log_handover(search_request.tracking_uri, tracking.parent_run_id,
                                            handover, notify)
    if gates is not None:
        gates["promoted"] = bool((artifacts.get("mlflow") or {}).get("registered_model"))
    document = build_document(rec, final.comparison, profile, summary, artifacts, gates)
    written = write_reports(document, folder)
    if tracking is not None and search_request.tracking_uri:
        _log_verdict(search_request.tracking_uri, tracking.parent_run_id, rec, folder,
                     [folder / p for p in artifacts["plots"]] + written, notify, gates,
                     final.comparison.refit)
    return document


def _baseline(request: RecommendRequest) -> tuple[dict[str, Any] | None, str | None]:
    """The previous decision to compare with: the champion's, or a recommendation.json."""
    if request.baseline is None:
        return None, None
    if request.baseline == "champion":
        uri = request.search.tracking_uri
        if uri is None:
            raise SelectorError("--baseline champion reads the registered model from MLflow: "
                                "drop --no-tracking, or pass --baseline recommendation.json.")
        found = champion_document(uri, request.registered_name())
        return found if found is not None else (None, None)  # the first run has none
    path = Path(request.baseline)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SelectorError(f"--baseline {path}: cannot read a recommendation JSON ({exc}).") \
            from None
    if not isinstance(document, dict) or document.get("schema") not in BASELINE_SCHEMAS:
        raise SelectorError(f"--baseline {path}: expected a recommendation.json written by "
                            f"selector recommend (schema {' or '.join(BASELINE_SCHEMAS)}).")
    return document, str(path)


def _handed_model(request: RecommendRequest, study: optuna.Study, final: FinalModels,
                  cell: str, data: SequenceData, space: SearchSpace, work_end: float | None,
                  step: Step | None, seeds: int) -> Fitted | None:
    """The model to hand over: the refit, or the best seed's model (--no-refit, or when the
    budget left no time for a refit, which the comparison's budget notes then say)."""
    held = final.best_model(cell)
    if request.refit or held is None:  # None: its runs were trained by other processes
        needed = refit_seconds(final.comparison, cell, data)
        if work_end is None or time.time() + needed <= work_end or held is None:
            if step:
                step(f"{cell.upper()} refit on train + validation",
                     planned_runs(data, seeds, refit=True))
            return refit(study, final, cell, data, space.training,
                         accelerator=request.search.accelerator, deadline=work_end)
        final.comparison = replace(final.comparison, budget_notes=(
            *final.comparison.budget_notes,
            f"no refit: it needs about {needed:.0f} s, the budget left "
            f"{max(0.0, work_end - time.time()):.0f} s; the best seed's model is handed over."))
        study.set_user_attr(FINAL_ATTR, final.comparison.to_dict())
    return held


def _plots(study: optuna.Study, final: FinalComparison, folder: Path) -> list[str]:
    plots = folder / "plots"
    names = write_study_plots(study, plots, score_name=final.score_name)
    write_final_plot(final, plots / "final_comparison.png")
    return [f"plots/{n}" for n in ["final_comparison.png", *names]]


def _log_handover(uri: str, run_id: str, handover: ModelHandover | None,
                  notify: Notify) -> dict[str, Any]:
    if handover is None:
        return model_record(run_id)
    try:
        return log_model(uri, run_id, handover)
    except Exception as exc:  # the model is on disk either way; MLflow is a view
        notify(f"MLflow: could not log or register the model in {mask_url(uri)}: "
               f"{str(exc).splitlines()[0][:300]}. It is saved in {handover.folder}.")
        return {**model_record(run_id), "error": str(exc).splitlines()[0][:300]}


def _log_verdict(uri: str, run_id: str, rec: Recommendation, folder: Path, files: list[Path],
                 notify: Notify, gates: dict[str, Any] | None, refit: Refit | None) -> None:
    tags = {"selector.verdict": rec.verdict or "none", "selector.confidence": rec.confidence,
            "selector.headline": rec.headline}
    if gates is not None:
        tags["selector.gates"] = {0: "passed", 3: "changed", 4: "failed"}[gates["exit_code"]]
    metrics = {f"final/{c.cell}/test_{rec.score_name}": c.test_mean for c in rec.cells}
    if rec.comparison.gain_mean is not None:
        metrics["final/lstm_gain"] = rec.comparison.gain_mean  # positive: LSTM better
    if refit is not None:
        metrics[f"final/refit/test_{rec.score_name}"] = refit.test_score
    try:
        log_verdict(uri, run_id, tags=tags, metrics=metrics, files=files)
    except Exception as exc:
        notify(f"MLflow: could not log the report to {mask_url(uri)}: "
               f"{str(exc).splitlines()[0][:300]}. It is in {folder}.")


def report_study(study_name: str, *, storage: str = DEFAULT_STORAGE,
                 prefer: str | None = None, min_gain: float | None = None,
                 budgets: Budgets | None = None, output_dir: str | None = None
                 ) -> RecommendResult:
    """Re-render the report of a recommended study from its storage, without retraining.

    The preset, minimum gain and budgets default to those of the last `recommend`; each one
    given replaces only itself (a new ``min_gain`` keeps the stored preset), and re-decides.
    """
    quiet_libraries()
    study = load_existing(storage_for(storage), study_name)
    final = stored_comparison(study)
    if final is None or PROFILE_ATTR not in study.user_attrs:
        raise SelectorError(f"study '{study_name}' has no final comparison yet: run 'selector "
                            "recommend' on it first (its search trials are kept).")
    stored = dict(study.user_attrs.get(DECISION_ATTR, {}))
    stored_budgets = Budgets(**stored.pop("budgets", {}))
    overrides = {k: v for k, v in {"prefer": prefer, "min_gain": min_gain}.items()
                 if v is not None}
    preferences = Preferences(**{**stored, **overrides})
    budgets = budgets or stored_budgets
    profile = DataProfile.from_dict(study.user_attrs[PROFILE_ATTR])
    rec = decide(final, profile, budgets, preferences)
    summary = summarize(study, storage_url=storage, score_name=final.score_name)
    folder = Path(output_dir or Path("selector-output") / study_name)
    artifacts: dict[str, Any] = {"folder": str(folder), **report_paths(folder),
                                 "plots": _plots(study, final, folder)}
    document = build_document(rec, final, profile, summary, artifacts)
    write_reports(document, folder)
    return RecommendResult(summary, rec, document)
