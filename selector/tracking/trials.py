"""Each finished trial as one nested child run of the study's run, logged once, in one batch."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from optuna.trial import FrozenTrial, TrialState

from selector.search.state import trial_attrs
from selector.search.study import cell_of

RETRY_AFTER_S = 30.0  # after a failure, wait this long before calling the store again
ORPHAN_AFTER = timedelta(minutes=2)  # a finished trial nobody logged for this long: log it
TRIAL = "selector.trial"  # the trial number, on its child run
LOGGED_BY, LOGGED_AT = "selector.logged_by", "selector.logged_at"  # who writes a trial's run
MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit

logger = logging.getLogger(__name__)
Notify = Callable[[str], None]


@dataclass(frozen=True)
class TrackingTarget:
    """Where a study's runs go; plain data, so worker processes can log their own trials."""

    uri: str
    experiment_id: str
    parent_run_id: str
    score_name: str


def trial_state(trial: FrozenTrial) -> str:
    if trial_attrs(trial).rejected:
        return "rejected"
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed"}.get(trial.state, trial.state.name.lower())


def state_reason(trial: FrozenTrial) -> str:
    """Why the trial ended as it did; a trial failed by Optuna's heartbeat check has no reason
    of its own (its worker died)."""
    reason = trial_attrs(trial).state_reason
    if trial.state == TrialState.FAIL and not reason.startswith("failed"):
        return "failed: its worker stopped sending heartbeats (killed or lost); retried"
    return reason


def trial_run_content(trial: FrozenTrial,
                      score_name: str) -> tuple[list[Param], list[Metric], list[RunTag], str]:
    """What one trial's child run holds: (params, metrics, tags, final run status).

    Curves are metrics with ``step`` = epoch; costs and the trial's value are single metrics.
    """
    end = millis(trial.datetime_complete) or int(time.time() * 1000)
    attrs = trial_attrs(trial)
    config = attrs.config or trial.params
    params = [Param(key, str(value)) for key, value in sorted(config.items())]
    metrics = []
    for epoch in attrs.curves:
        step = int(epoch["epoch"])
        for key, name in (("train_loss", "train_loss"), ("val_loss", "val_loss"),
                          ("val_score", f"val_{score_name}"), ("train_seconds", "epoch_seconds")):
            metrics.append(Metric(name, float(epoch[key]), end, step))
    cost = dict(attrs.cost or {})
    device = cost.pop("device", None)
    if not cost:  # pruned, rejected or failed: what was measured before training
        cost = {"parameters": attrs.parameters, "latency_ms_p50": attrs.latency_ms_p50}
    if attrs.curves:
        cost.setdefault("epochs_trained", len(attrs.curves))
    if attrs.pruned_epoch is not None:
        cost["pruned_epoch"] = attrs.pruned_epoch
    metrics += [Metric(key, float(value), end, 0) for key, value in sorted(cost.items())
                if value is not None]
    if trial.state == TrialState.COMPLETE and trial.values:
        metrics.append(Metric(f"best_val_{score_name}", float(trial.values[0]), end, 0))
    tags = {TRIAL: str(trial.number), "selector.cell": cell_of(trial) or "",
            "selector.state": trial_state(trial), "selector.state_reason": state_reason(trial)}
    if device:
        tags["selector.device"] = device
    if attrs.twin_of is not None:
        tags["selector.twin_of"] = str(attrs.twin_of)
    status = "FAILED" if trial.state == TrialState.FAIL else "FINISHED"
    return params, metrics, [RunTag(k, v) for k, v in tags.items()], status


def millis(moment: datetime | None) -> int | None:
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
            self.target.experiment_id, start_time=millis(trial.datetime_start),
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
        self.client.set_terminated(run_id, status, end_time=millis(trial.datetime_complete))
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
