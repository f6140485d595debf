"""MLflow tracking: the study as a parent run, each trial as a nested child run, plots as artifacts.

The Optuna storage stays the source of truth and MLflow is a view of it, so tracking is a sync:
each finished trial is logged once, as one batch, when it ends. What cannot be logged (the
server went away) is retried later and at the end, and listed if it still fails; re-running the
same command logs whatever is still missing. Training never waits on, or fails with, MLflow
once the search has started.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from mlflow import MlflowClient
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, Run, RunTag
from mlflow.types import Schema, TensorSpec
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from optuna.trial import FrozenTrial, TrialState

from selector.data.dataset import SequenceData
from selector.data.examples import example_name, is_example
from selector.data.profile import profile_dataset
from selector.errors import SelectorError
from selector.export import MODEL_FILE, quiet_torchscript
from selector.plots import write_study_plots
from selector.records import SearchSummary, TrackingSummary
from selector.space import SearchSpace
from selector.storage import check_sqlite_file, sqlite_file
from selector.study import FINISHED, UID_ATTR, cell_of
from selector.urls import mask_url

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
RETRY_AFTER_S = 30.0  # after a failure, wait this long before calling the store again
ORPHAN_AFTER = timedelta(minutes=2)  # a finished trial nobody logged for this long: log it
TRIAL = "selector.trial"  # the trial number, on its child run
LOGGED_BY, LOGGED_AT = "selector.logged_by", "selector.logged_at"  # who writes a trial's run
PLOT_EVERY_S = 30.0  # regenerate the study plots at most this often (and at the end)
VERSIONED = ("selector", "torch", "lightning", "optuna", "optuna-integration", "mlflow", "numpy")
MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit

EXPERIMENT_TAGS = {
    "selector.kind": "study",
    "mlflow.experimentKind": "custom_model_development",  # open the UI's runs table, not GenAI
    "mlflow.note.content": "GRU vs LSTM search by selector. Each study is a parent run; its "
    "trials are nested child runs, tagged selector.cell (group by it) and selector.state. The "
    "study's plots are in the parent run's artifacts, under plots/.",
}

logger = logging.getLogger(__name__)
Notify = Callable[[str], None]


def default_tracking_uri() -> str:
    """MLflow's convention: MLFLOW_TRACKING_URI if set, else the local store in this folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def local_artifact_root(uri: str) -> Path | None:
    """For a SQLite store, ``mlruns/`` beside the database file (MLflow itself would use the
    working folder, scattering artifacts wherever a command happens to run)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = uri[len("sqlite:///"):].split("?")[0]
    return Path(database).expanduser().resolve().parent / "mlruns" if database else None


MLFLOW_TABLES = {"experiments", "runs"}


def check_store_file(uri: str) -> None:
    """A SQLite tracking store that exists must be an MLflow one (see `check_sqlite_file`)."""
    database = sqlite_file(uri)
    if database is not None:
        check_sqlite_file(database, expected=MLFLOW_TABLES, what="the MLflow tracking store",
                          hint="Point --tracking-uri (or MLFLOW_TRACKING_URI) at another store.")


def local_folders(uri: str) -> list[Path]:
    """The folders a local tracking store writes to: none for a tracking server."""
    root = local_artifact_root(uri)
    if root is not None:
        return [root.parent, root]
    if uri.startswith("file:"):
        return [Path(urllib.parse.urlparse(uri).path)]
    return [] if "://" in uri else [Path(uri)]


def client_defaults() -> None:
    """MLflow client settings for a search; values the user has set are kept.

    HTTP retries default to 7 with exponential backoff: one call to a dead server would block
    the search for minutes, where these lose a few seconds, then go on and retry later. And a
    client for a server prints run links on stdout when a run ends (and fetches the run to do
    so), which would break ``--json`` output.
    """
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr is ours


def connect(uri: str) -> MlflowClient:
    """A client for ``uri``, checked with one cheap call: an unreachable store fails here."""
    client_defaults()
    check_store_file(uri)
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # MLflow, HTTP and database errors alike
        raise SelectorError(
            f"cannot use the MLflow tracking store {mask_url(uri)}: {_reason(exc)}. Check that "
            "it is running (and MLFLOW_TRACKING_USERNAME/PASSWORD for a server with auth), "
            "point --tracking-uri (or MLFLOW_TRACKING_URI) at another store, or pass "
            "--no-tracking to search without MLflow.") from None
    return client


def _reason(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return mask_url(text[:400])


@dataclass(frozen=True)
class TrackingTarget:
    """Where a study's runs go; plain data, so worker processes can log their own trials."""

    uri: str
    experiment_id: str
    parent_run_id: str
    score_name: str


def trial_state(trial: FrozenTrial) -> str:
    if trial.user_attrs.get("rejected"):
        return "rejected"
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed"}.get(trial.state, trial.state.name.lower())


def state_reason(trial: FrozenTrial) -> str:
    """Why the trial ended as it did; a trial failed by Optuna's heartbeat check has no reason
    of its own (its worker died)."""
    reason = str(trial.user_attrs.get("state_reason", ""))
    if trial.state == TrialState.FAIL and not reason.startswith("failed"):
        return "failed: its worker stopped sending heartbeats (killed or lost); retried"
    return reason


def trial_run_content(trial: FrozenTrial,
                      score_name: str) -> tuple[list[Param], list[Metric], list[RunTag], str]:
    """What one trial's child run holds: (params, metrics, tags, final run status).

    Curves are metrics with ``step`` = epoch; costs and the trial's value are single metrics.
    """
    end = _millis(trial.datetime_complete) or int(time.time() * 1000)
    attrs = trial.user_attrs
    config = attrs.get("config") or trial.params
    params = [Param(key, str(value)) for key, value in sorted(config.items())]
    metrics = []
    for epoch in attrs.get("curves", []):
        step = int(epoch["epoch"])
        for key, name in (("train_loss", "train_loss"), ("val_loss", "val_loss"),
                          ("val_score", f"val_{score_name}"), ("train_seconds", "epoch_seconds")):
            metrics.append(Metric(name, float(epoch[key]), end, step))
    cost = dict(attrs.get("cost") or {})
    device = cost.pop("device", None)
    if not cost:  # pruned, rejected or failed: what was measured before training
        cost = {k: attrs[k] for k in ("parameters", "latency_ms_p50") if k in attrs}
    if "curves" in attrs:
        cost.setdefault("epochs_trained", len(attrs["curves"]))
    if "pruned_epoch" in attrs:
        cost["pruned_epoch"] = attrs["pruned_epoch"]
    metrics += [Metric(key, float(value), end, 0) for key, value in sorted(cost.items())
                if value is not None]
    if trial.state == TrialState.COMPLETE and trial.values:
        metrics.append(Metric(f"best_val_{score_name}", float(trial.values[0]), end, 0))
    tags = {TRIAL: str(trial.number), "selector.cell": cell_of(trial) or "",
            "selector.state": trial_state(trial), "selector.state_reason": state_reason(trial)}
    if device:
        tags["selector.device"] = device
    if "twin_of" in attrs:
        tags["selector.twin_of"] = str(attrs["twin_of"])
    status = "FAILED" if trial.state == TrialState.FAIL else "FINISHED"
    return params, metrics, [RunTag(k, v) for k, v in tags.items()], status


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)

class TrialLogger:
    """Logs finished trials as child runs of the study's parent run.

    Each run is tagged with the ``invocation`` that logs it, so a run left half-written can be
    told from one that another process is writing right now.
    """

    def __init__(self, target: TrackingTarget, invocation: str,
                 client: MlflowClient | None = None) -> None:
        self.target = target
        self.invocation = invocation
        self.client = client or MlflowClient(tracking_uri=target.uri)

    def log(self, trial: FrozenTrial) -> bool:
        """Log the trial as a child run, unless another process holds its run: then False.

        A run is claimed before it is written: if another run of the trial exists (complete,
        or being written right now), this one is deleted. The later of two claims always sees
        the earlier, so a trial is never logged twice; two claims at the same instant both
        withdraw, and the trial is logged at a later sync.
        """
        params, metrics, tags, status = trial_run_content(trial, self.target.score_name)
        cell = cell_of(trial) or "trial"
        run_id = self.client.create_run(
            self.target.experiment_id, start_time=_millis(trial.datetime_start),
            run_name=f"{cell}-trial-{trial.number}",
            tags={MLFLOW_PARENT_RUN_ID: self.target.parent_run_id, TRIAL: str(trial.number),
                  LOGGED_BY: self.invocation, LOGGED_AT: str(int(time.time() * 1000))},
        ).info.run_id
        if any(run.info.run_id != run_id and self._holds(run)
               for run in self._runs(f" and tags.`{TRIAL}` = '{trial.number}'")):
            self.client.delete_run(run_id)
            return False
        for start in range(0, max(len(metrics), 1), MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[start:start + MAX_METRICS_PER_BATCH],
                                  params=params if start == 0 else [],
                                  tags=tags if start == 0 else [])
        # Terminal status last: a run left RUNNING was cut off mid-way and is logged again.
        self.client.set_terminated(run_id, status, end_time=_millis(trial.datetime_complete))
        return True

    def _holds(self, run: Run) -> bool:
        """Whether a run stands for its trial: complete, or being written by another process
        (a partial run of this process, or one partial for `ORPHAN_AFTER`, was cut off)."""
        if run.info.status in ("FINISHED", "FAILED"):
            return True
        started = int(run.data.tags.get(LOGGED_AT, 0)) / 1000
        return (run.data.tags.get(LOGGED_BY) != self.invocation
                and time.time() - started < ORPHAN_AFTER.total_seconds())

    def _runs(self, condition: str = "") -> Iterator[Run]:
        """The study's child runs (``condition`` narrows the search)."""
        token = None
        while True:
            page = self.client.search_runs(
                [self.target.experiment_id], max_results=1000, page_token=token,
                filter_string=f"tags.{MLFLOW_PARENT_RUN_ID} = '{self.target.parent_run_id}'"
                + condition)
            yield from page
            token = page.token
            if not token:
                return

    def logged_trials(self) -> set[int]:
        """Trial numbers logged in full, or being logged by another process right now; runs
        that were cut off mid-way are deleted (and their trials logged again)."""
        done: set[int] = set()
        for run in self._runs():
            number = run.data.tags.get(TRIAL)
            if number is not None and self._holds(run):
                done.add(int(number))
            else:
                self.client.delete_run(run.info.run_id)
        return done

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna callback for worker processes: best effort; the main process logs the rest."""
        with contextlib.suppress(Exception):
            self.log(trial)


class StudyTracker:
    """The main process's view of tracking: parent run, trial sync, plots, and the final report.

    ``invocation`` marks the trials this search runs (its own process and its ``--jobs``
    workers); a tracker logs those, and trials that finished before it started (a backlog
    from an earlier run), never the trials of other machines' workers on a shared study.
    """

    def __init__(self, uri: str, *, experiment_name: str, invocation: str,
                 notify: Notify | None = None, plot_every: float = PLOT_EVERY_S,
                 retry_after: float = RETRY_AFTER_S) -> None:
        self.uri = uri
        self.experiment_name = experiment_name
        self.invocation = invocation
        self.notify = notify or logger.warning
        self.plot_every = plot_every
        self.retry_after = retry_after
        self.seconds = 0.0
        self.logged: set[int] = set()
        self._error: str | None = None
        self._failed_at: float | None = None
        self._plotted_at: float | None = None
        self._started = datetime.now()
        self._logger: TrialLogger | None = None  # set by start(): the client and the target

    # -- start ---------------------------------------------------------------------------------
    def start(self, study: optuna.Study, data: SequenceData, space: SearchSpace, *,
              score_name: str, settings: dict[str, Any],
              status: str = "RUNNING") -> TrackingTarget:
        """Find or create the experiment and the study's parent run; fails fast if unreachable.

        Two processes may start a new study's tracking at once (workers on several machines):
        each may create a parent run, and all then use the oldest one, deleting their own.
        """
        with self._timed():
            client = connect(self.uri)
            try:
                experiment_id = self._experiment(client)
                uid = str(study.user_attrs[UID_ATTR])
                parent = self._find_parent(client, experiment_id, uid)
                if parent is None:
                    mine = self._create_parent(client, experiment_id, uid, study, data, space)
                    parent = self._find_parent(client, experiment_id, uid)
                    if parent != mine:
                        client.delete_run(mine)
                assert parent is not None
                client.update_run(parent, status=status)
                client.log_batch(parent, tags=[RunTag(f"selector.{k}", str(v))
                                               for k, v in settings.items()] + _versions())
                self._logger = TrialLogger(
                    TrackingTarget(self.uri, experiment_id, parent, score_name), self.invocation,
                    client)
                self.logged = self._logger.logged_trials()
            except SelectorError:
                raise
            except Exception as exc:
                raise SelectorError(f"MLflow tracking store {mask_url(self.uri)}: "
                                    f"{_reason(exc)}") from None
        return self._logger.target

    def _experiment(self, client: MlflowClient) -> str:
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            root = local_artifact_root(self.uri)
            folder = re.sub(r"[^\w.-]+", "_", self.experiment_name)
            try:
                return client.create_experiment(
                    self.experiment_name, artifact_location=str(root / folder) if root else None,
                    tags=EXPERIMENT_TAGS)
            except Exception:  # another worker created it a moment ago
                experiment = client.get_experiment_by_name(self.experiment_name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id

    @staticmethod
    def _find_parent(client: MlflowClient, experiment_id: str, uid: str) -> str | None:
        """The study's parent run: the oldest, should several have been created at once."""
        runs = client.search_runs([experiment_id], max_results=100,
                                  filter_string=f"tags.`selector.study_uid` = '{uid}'")
        oldest = min(runs, key=lambda r: (r.info.start_time, r.info.run_id), default=None)
        return oldest.info.run_id if oldest else None

    def _create_parent(self, client: MlflowClient, experiment_id: str, uid: str,
                       study: optuna.Study, data: SequenceData, space: SearchSpace) -> str:
        profile = profile_dataset(data)
        run = client.create_run(experiment_id, run_name=study.study_name, tags={
            "selector.role": "study", "selector.study": study.study_name,
            "selector.study_uid": uid, "selector.task": data.task,
            "mlflow.note.content": f"Study '{study.study_name}': {data.task} on "
            f"{data.source}, search space '{space.name}'. Child runs are its trials."})
        run_id = run.info.run_id
        fixed = {f"data.{k}": v for k, v in profile.to_dict().items()
                 if isinstance(v, str | int | float | bool) or v is None}
        fixed |= {f"training.{k}": v for k, v in vars(space.training).items()}
        fixed |= {"space": space.name, "directions": ",".join(
            d.name.lower() for d in study.directions)}
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in sorted(fixed.items())])
        client.log_inputs(run_id, datasets=[DatasetInput(
            dataset_record(data)._to_mlflow_entity(),
            tags=[InputTag("mlflow.data.context", "training")])])
        client.log_text(run_id, json.dumps(profile.to_dict(), indent=2), "profile.json")
        client.log_text(run_id, space.text, f"search_space/{Path(space.source).name}")
        return run_id

    # -- during the search ---------------------------------------------------------------------
    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna callback in the searching process: log finished trials, refresh the plots."""
        with self._timed():
            self._sync(study, force=False)
        self.poll(study)

    def poll(self, study: optuna.Study) -> None:
        """Regenerate the plots if they are older than ``plot_every`` (cheap otherwise)."""
        if self._plotted_at is None or time.monotonic() - self._plotted_at >= self.plot_every:
            with self._timed():
                self._plots(study, force=False)

    def _due(self, study: optuna.Study) -> list[FrozenTrial]:
        """Finished trials this process should log: its own, a backlog, and orphans.

        A trial is its runner's to log; a trial whose worker died (failed by the heartbeat
        check) is the runner of its retry's. Trials that finished before this process started
        (an earlier run could not reach the store), and any that nobody logged for
        `ORPHAN_AFTER` (its process is gone), are anyone's: `TrialLogger.log` keeps them single.
        """
        trials = study.get_trials(deepcopy=False)
        retries = {t.system_attrs["retry_history"][-1]: t for t in trials
                   if t.system_attrs.get("retry_history") and t.state != TrialState.WAITING}
        orphaned = max(self._started, datetime.now() - ORPHAN_AFTER)
        due = []
        for trial in trials:
            if trial.state not in FINISHED or trial.number in self.logged:
                continue
            runner = retries.get(trial.number, trial)
            if runner.user_attrs.get("invocation") == self.invocation or (
                    trial.datetime_complete is not None and trial.datetime_complete < orphaned):
                due.append(trial)
        return due

    def _sync(self, study: optuna.Study, *, force: bool) -> None:
        if self._logger is None or (not force and self._waiting()):
            return
        for trial in self._due(study):
            if not self._guard(f"logging trial #{trial.number}", self._logger.log, trial):
                return
            self.logged.add(trial.number)

    def _plots(self, study: optuna.Study, *, force: bool) -> None:
        if self._logger is None or (not force and self._waiting()):
            return
        self._plotted_at = time.monotonic()
        target = self._logger.target
        with tempfile.TemporaryDirectory() as folder:
            if write_study_plots(study, Path(folder), score_name=target.score_name):
                self._guard("uploading the study plots", self._logger.client.log_artifacts,
                            target.parent_run_id, folder, "plots")

    def _waiting(self) -> bool:
        return self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after

    def _guard(self, what: str, call: Callable[..., Any], *args: Any) -> bool:
        """Run one MLflow call; a failure is reported once and the search goes on."""
        try:
            call(*args)
        except Exception as exc:
            self._failed_at = time.monotonic()
            if self._error is None:
                self.notify(f"MLflow tracking at {mask_url(self.uri)} failed while {what}: "
                            f"{_reason(exc)}. Training goes on; what was not logged is retried "
                            "and listed at the end.")
            self._error = _reason(exc)
            return False
        self._failed_at = None
        return True

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start

    # -- end -----------------------------------------------------------------------------------
    def finish(self, study: optuna.Study, summary: SearchSummary | None, *,
               interrupted: bool = False) -> TrackingSummary:
        """Log what is still missing (workers' gaps included), the plots and the totals."""
        assert self._logger is not None, "finish() before start()"
        target, client = self._logger.target, self._logger.client
        with self._timed():
            if self._guard("listing logged trials", self._refresh_logged):
                self._error = None  # the store answers again: only what still fails counts
                self._sync(study, force=True)
                self._plots(study, force=True)
                if summary is not None:
                    self._guard("logging the totals", client.log_batch, target.parent_run_id,
                                _totals(summary))
                self._guard("closing the study run", client.set_terminated,
                            target.parent_run_id, "KILLED" if interrupted else "FINISHED")
        unlogged = tuple(t.number for t in self._due(study))
        return TrackingSummary(
            uri=mask_url(self.uri), experiment_name=self.experiment_name,
            experiment_id=target.experiment_id, parent_run_id=target.parent_run_id,
            logged_trials=len(self.logged), unlogged_trials=unlogged,
            error=self._error,
            overhead_seconds=round(self.seconds, 3))

    def _refresh_logged(self) -> None:
        assert self._logger is not None
        self.logged = self._logger.logged_trials()


def _versions() -> list[RunTag]:
    tags = []
    for package in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            tags.append(RunTag(f"selector.version.{package}", metadata.version(package)))
    return tags


def _totals(summary: SearchSummary) -> list[Metric]:
    now = int(time.time() * 1000)
    values: dict[str, float] = {"trials": summary.n_trials}
    for cell in summary.cells:
        values |= {f"{cell.cell}/trials": cell.trials, f"{cell.cell}/complete": cell.complete,
                   f"{cell.cell}/pruned": cell.pruned, f"{cell.cell}/epochs": cell.epochs,
                   f"{cell.cell}/train_seconds": cell.train_seconds}
        if cell.best_score is not None:
            values[f"{cell.cell}/best_val_{summary.score_name}"] = cell.best_score
    return [Metric(k, float(v), now, 0) for k, v in values.items()]


def dataset_record(data: SequenceData) -> MetaDataset:
    """The data as MLflow sees it: where it came from, a digest of its content, its schema."""
    digest = hashlib.sha256()
    for sequence in data.sequences:
        digest.update(np.ascontiguousarray(sequence).tobytes())
    digest.update(np.ascontiguousarray(data.targets).tobytes())
    width = () if data.is_text else (data.n_features,)
    schema = Schema([
        TensorSpec(data.sequences[0].dtype, (-1, -1, *width), "sequences"),
        TensorSpec(data.targets.dtype, (-1, *data.targets.shape[1:]), "target"),
    ])
    source: DatasetSource
    if is_example(data.source):
        source = CodeDatasetSource({"selector.example": data.source})
    else:
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": all local files
            warnings.simplefilter("ignore")
            source = resolve_dataset_source(str(Path(data.source).resolve()))
    name = example_name(data.source) if is_example(data.source) else Path(data.source).name
    return MetaDataset(source, name=name, digest=digest.hexdigest()[:12], schema=schema)


@dataclass(frozen=True)
class ModelHandover:
    """The exported model folder and how to register it."""

    folder: Path
    torchscript: Path
    description: str  # the rationale: shown on the registered model version
    register_as: str | None  # registered model name; None: log the model, do not register
    alias: str = "champion"


def log_verdict(uri: str, run_id: str, *, tags: dict[str, str], metrics: dict[str, float],
                files: list[Path]) -> None:
    """The verdict on the study's run: tags, metrics, the reports and the final plots."""
    client = connect(uri)
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    for path in files:
        client.log_artifact(run_id, str(path), "plots" if path.suffix == ".png" else "report")


def model_record(run_id: str) -> dict[str, str | None]:
    """Where a handed-over model went; all None until it is logged and registered."""
    return {"run_id": run_id, "model_uri": None, "registered_model": None, "version": None,
            "alias": None}


def log_model(uri: str, run_id: str, model: ModelHandover) -> dict[str, str | None]:
    """Log the model on the study's run and register it under an alias; returns where it went.

    The model is logged as TorchScript with MLflow's ``pickle`` format (``ScriptModule.save``,
    no Python pickling): the default ``pt2`` format would fix the sequence length of its input
    example. The selector model folder travels with it (``extra_files``), so ``selector
    predict models:/NAME@champion`` works. Requirements are given, not inferred (~6 s saved).
    """
    import mlflow
    import mlflow.pytorch
    import torch
    from mlflow.models import ModelSignature

    client = connect(uri)
    meta = json.loads((model.folder / MODEL_FILE).read_text())
    width = () if meta["input"]["dtype"] == "int64" else (meta["input"]["shape"][2],)
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(meta["input"]["dtype"]), (-1, -1, *width), "x")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *_output_width(meta)), "y")]))
    result = model_record(run_id)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    # MLflow configures its loggers on import (INFO): "Successfully registered model", and a
    # pickle warning that does not apply to a TorchScript module.
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)
    try:
        with quiet_torchscript():
            scripted = torch.jit.load(str(model.torchscript))
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pytorch.log_model(
                    scripted, name="model", serialization_format="pickle", signature=signature,
                    pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                    extra_files=[str(p) for p in sorted(model.folder.iterdir()) if p.is_file()])
        result["model_uri"] = info.model_uri
        if model.register_as:
            with contextlib.redirect_stderr(io.StringIO()):  # "Successfully registered ..."
                version = mlflow.register_model(info.model_uri, model.register_as,
                                                tags={"selector.run_id": run_id})
            client.update_model_version(model.register_as, version.version,
                                        description=model.description)
            client.set_registered_model_alias(model.register_as, model.alias, version.version)
            result |= {"registered_model": model.register_as, "version": str(version.version),
                       "alias": model.alias}
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow_logger.setLevel(level)
    return result


def _output_width(meta: dict[str, Any]) -> tuple[int, ...]:
    if meta["task"] == "classification":
        return (len(meta["classes"]),)
    return tuple(meta["output_shape"])


def champion_document(uri: str, model_name: str,
                      alias: str = "champion") -> tuple[dict[str, Any], str] | None:
    """The recommendation behind the model registered as ``model_name@alias`` (its run's
    report/recommendation.json) and where it came from; None while there is no such model."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client = connect(uri)
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    run_id = version.tags.get("selector.run_id") or version.run_id
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="report/recommendation.json", dst_path=folder,
                tracking_uri=uri)
        except MlflowException:
            raise SelectorError(f"models:/{model_name}@{alias} (version {version.version}) has no "
                                "recommendation.json on its run: was it registered by selector "
                                "recommend? Pass --baseline PATH instead.") from None
        document = json.loads(Path(path).read_text())
    return document, f"models:/{model_name}@{alias} (version {version.version})"
