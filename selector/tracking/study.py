"""The study's parent run: created once, kept in sync with the storage as trials finish.

What cannot be logged (the server went away) is retried later and at the end, and listed if it
still fails; re-running the same command logs whatever is still missing. Training never waits
on, or fails with, MLflow once the search has started.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
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
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.types import Schema, TensorSpec
from optuna.trial import FrozenTrial, TrialState

from selector import DISTRIBUTION
from selector.data.dataset import SequenceData
from selector.data.examples import example_name, is_example
from selector.errors import SelectorError, first_line
from selector.records import DataProfile, SearchSummary, TrackingSummary
from selector.reports.plots import write_study_plots
from selector.search.space import SearchSpace
from selector.search.state import study_state, trial_attrs
from selector.search.study import FINISHED
from selector.tracking.client import connect, local_artifact_root
from selector.tracking.trials import (
    ORPHAN_AFTER,
    RETRY_AFTER_S,
    Notify,
    TrackingTarget,
    TrialLogger,
)
from selector.urls import mask_url

PLOT_EVERY_S = 30.0  # regenerate the study plots at most this often (and at the end)
VERSIONED = (DISTRIBUTION, "torch", "lightning", "optuna", "optuna-integration", "mlflow", "numpy")
EXPERIMENT_TAGS = {
    "selector.kind": "study",
    "mlflow.experimentKind": "custom_model_development",  # open the UI's runs table, not GenAI
    "mlflow.note.content": "GRU vs LSTM search by selector. Each study is a parent run; its "
    "trials are nested child runs, tagged selector.cell (group by it) and selector.state. The "
    "study's plots are in the parent run's artifacts, under plots/.",
}

logger = logging.getLogger(__name__)


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
    def start(self, study: optuna.Study, data: SequenceData, profile: DataProfile,
              space: SearchSpace, *,
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
                uid = str(study_state(study).uid)
                parent = self._find_parent(client, experiment_id, uid)
                if parent is None:
                    mine = self._create_parent(client, experiment_id, uid, study, data,
                                               profile, space)
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
                                    f"{first_line(exc)}") from None
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
                       study: optuna.Study, data: SequenceData, profile: DataProfile,
                       space: SearchSpace) -> str:
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
            if trial_attrs(runner).invocation == self.invocation or (
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
                            f"{first_line(exc)}. Training goes on; what was not logged is retried "
                            "and listed at the end.")
            self._error = first_line(exc)
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
            name = "selector" if package == DISTRIBUTION else package
            tags.append(RunTag(f"selector.version.{name}", metadata.version(package)))
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
    # MetaDataset leaves Dataset's abstract `profile` undefined (None at run time): MLflow's
    # own class for a dataset known by its metadata alone
    return MetaDataset(source, name=name, digest=digest.hexdigest()[:12],  # type: ignore[abstract]
                       schema=schema)
