"""Reading back what a search logged to MLflow."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import Run


def trial_runs(client: MlflowClient, parent_run_id: str) -> dict[int, Run]:
    """The study run's nested trial runs by trial number; no trial may be logged twice."""
    parent = client.get_run(parent_run_id)
    runs = client.search_runs([parent.info.experiment_id],
                              f"tags.mlflow.parentRunId = '{parent_run_id}'")
    numbers = [int(r.data.tags["selector.trial"]) for r in runs]
    assert len(numbers) == len(set(numbers)), "a trial was logged twice"
    return dict(zip(numbers, runs, strict=True))
